"""Background processes of a local cluster: started detached, tracked by pid files, stopped for sure.

Each process gets its own session (so a signal to its process group also reaches any child it
spawned) and a pid file recording its pid and exact command line. A pid alone is not proof: after
a crash or a reboot the number may belong to somebody else, so a process is ours only while
/proc/<pid>/cmdline still equals the recorded one. Every command line names the cluster's state
directory, which also lets `down` find strays whose pid file was lost (a CLI killed between
spawning and writing the file).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tracked:
    name: str
    pid: int
    argv: tuple[str, ...]
    log: Path


def command_line(pid: int) -> tuple[str, ...] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1])


def _state(pid: int) -> str | None:
    """The one-letter state of /proc/<pid>/stat (R, S, Z, ...), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int, argv: Sequence[str] | None = None) -> bool:
    """Running (a zombie is not), and when argv is given, still running exactly that command."""
    state = _state(pid)
    if state is None or state in ("Z", "X"):
        return False
    return argv is None or command_line(pid) == tuple(argv)


class ProcessTable:
    """The pid files of one cluster: <state>/pids/<name>.json, logs in <state>/logs/<name>.log."""

    def __init__(self, state: Path):
        self.state = state
        self.pids = state / "pids"
        self.logs = state / "logs"

    def _pidfile(self, name: str) -> Path:
        return self.pids / f"{name}.json"

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Tracked:
        self.pids.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, close_fds=True, env=env, cwd=self.state)
        # Until the child has exec'd, /proc shows the forked Python's command line, not argv.
        deadline = time.monotonic() + 5
        while command_line(proc.pid) != tuple(argv) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        record = {"name": name, "pid": proc.pid, "argv": list(argv), "log": str(log)}
        tmp = self._pidfile(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self._pidfile(name))
        return Tracked(name, proc.pid, tuple(argv), log)

    def get(self, name: str) -> Tracked | None:
        try:
            record = json.loads(self._pidfile(name).read_text())
        except (OSError, ValueError):
            return None
        return Tracked(record["name"], record["pid"], tuple(record["argv"]), Path(record["log"]))

    def running(self, name: str) -> Tracked | None:
        tracked = self.get(name)
        return tracked if tracked and alive(tracked.pid, tracked.argv) else None

    def stop(self, name: str, timeout: float = 10.0) -> None:
        tracked = self.get(name)
        if tracked and alive(tracked.pid, tracked.argv):
            _terminate(tracked.pid, timeout)
        with contextlib.suppress(FileNotFoundError):
            self._pidfile(name).unlink()

    def strays(self) -> list[int]:
        """Processes whose command line names this state directory: ours, whatever the pid files say."""
        return processes_naming(self.state)

    def stop_strays(self, timeout: float = 10.0, only: Sequence[int] | None = None) -> list[int]:
        found = [pid for pid in self.strays() if only is None or pid in only]
        for pid in found:
            _terminate(pid, timeout)
        return found


def processes_naming(path: Path) -> list[int]:
    """Pids of live processes with an argument inside `path` (the caller and its parents excluded)."""
    marker = str(path)
    mine = {os.getpid(), os.getppid()}
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        argv = command_line(int(entry.name))
        if argv and any(marker in arg for arg in argv) and alive(int(entry.name)):
            out.append(int(entry.name))
    return sorted(out)


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM to the process's group (it leads its own session), SIGKILL after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        _signal(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid):
                return
            time.sleep(0.05)
    raise RuntimeError(f"process {pid} survived SIGKILL")


def _signal(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (tests start clusters in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
