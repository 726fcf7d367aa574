"""Loopback ports for the servers the CLI and the tests start.

`bind(("127.0.0.1", 0))` asks the kernel for a port from its ephemeral range, the same range it takes
the local end of every outgoing connection from. A port chosen that way and handed to a server a moment
later can meanwhile become the source port of any client on the machine (the server's own Kafka
producer dialling its broker, say), and the server dies with "Address already in use": a CI run failed
exactly so. The ports here come from below the ephemeral range, where the kernel never picks one by
itself, and one process never hands the same port out twice.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000        # below: well-known services and what people run by hand

_handed_out: set[int] = set()
_lock = threading.Lock()


def _pool() -> range:
    """Ports outside the kernel's ephemeral range: below it, or above it when it starts too low."""
    try:
        first, last = (int(n) for n in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        first, last = 32768, 60999     # Linux's default
    return range(LOWEST, first) if first - LOWEST >= 2048 else range(last + 1, 65536)


def bindable(port: int, reuse_address: bool = False) -> bool:
    """Whether a server could listen on 127.0.0.1:port now. Without reuse_address a connection of an
    earlier server still in TIME_WAIT counts as taken, which is what a server not setting SO_REUSEADDR sees."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if reuse_address:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on, none of them handed out before by this process."""
    pool = _pool()
    start = random.randrange(len(pool))      # separate processes start far apart
    chosen: list[int] = []
    with _lock:
        for i in range(len(pool)):
            port = pool[(start + i) % len(pool)]
            if port not in _handed_out and bindable(port):
                _handed_out.add(port)
                chosen.append(port)
                if len(chosen) == count:
                    return chosen
    raise OSError(f"no {count} free ports in {pool.start}-{pool.stop - 1} on 127.0.0.1")


def free_port() -> int:
    """One port nothing listens on (see free_ports)."""
    return free_ports(1)[0]
