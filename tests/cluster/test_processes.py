"""Process tracking: pid files checked against command lines, strays found by the state directory."""

from __future__ import annotations

import json
import subprocess
import sys

from edgeai.cluster.processes import ProcessTable, alive, processes_naming


def sleeper(tmp_path) -> list[str]:
    # The state directory in the command line, as every process of a cluster has it.
    return [sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path / "marker")]


def test_start_running_stop(tmp_path) -> None:
    table = ProcessTable(tmp_path)
    tracked = table.start("sleeper", sleeper(tmp_path))
    assert table.running("sleeper") and alive(tracked.pid, tracked.argv)
    assert processes_naming(tmp_path) == [tracked.pid]
    table.stop("sleeper")
    assert not alive(tracked.pid) and table.get("sleeper") is None


def test_a_stale_pid_file_never_stops_somebody_elses_process(tmp_path) -> None:
    table = ProcessTable(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        table.pids.mkdir(parents=True)
        (table.pids / "etcd.json").write_text(json.dumps({"name": "etcd", "pid": other.pid,
                                                          "argv": ["/somewhere/etcd"], "log": "x"}))
        assert table.running("etcd") is None
        table.stop("etcd")
        assert alive(other.pid)
    finally:
        other.kill()
        other.wait()


def test_strays_without_pid_files_are_found_and_stopped(tmp_path) -> None:
    table = ProcessTable(tmp_path)
    tracked = table.start("lost", sleeper(tmp_path))
    (table.pids / "lost.json").unlink()
    assert table.stop_strays() == [tracked.pid]
    assert not alive(tracked.pid) and not processes_naming(tmp_path)
