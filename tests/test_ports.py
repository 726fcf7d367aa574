"""edgeai.ports: loopback ports for servers, outside the kernel's ephemeral range."""

from __future__ import annotations

import socket

import pytest

from edgeai import ports


def test_ports_come_from_outside_the_ephemeral_range_and_are_never_handed_out_twice():
    first, last = (int(n) for n in ports.EPHEMERAL_RANGE.read_text().split())
    chosen = ports.free_ports(200)
    assert len(set(chosen)) == 200
    assert not any(first <= p <= last for p in chosen), "the kernel may pick these as a client's source port"
    assert not set(chosen) & set(ports.free_ports(200)), "a port is handed out once per process"


def test_a_port_something_listens_on_is_not_handed_out(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert not ports.bindable(taken) and not ports.bindable(taken, reuse_address=True)
        monkeypatch.setattr(ports, "_pool", lambda: range(taken, taken + 1))
        with pytest.raises(OSError, match=f"no 1 free ports in {taken}-{taken}"):
            ports.free_port()


def test_an_exhausted_pool_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(ports, "_pool", lambda: range(20000, 20002))
    monkeypatch.setattr(ports, "_handed_out", {20000, 20001})
    with pytest.raises(OSError, match="no 1 free ports in 20000-20001"):
        ports.free_port()
