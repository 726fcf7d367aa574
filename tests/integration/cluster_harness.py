"""Helpers of the integration tests: run `edgeai` as a user does, start and stop clusters, find leftovers.

Nothing is skipped: without the control-plane binaries the tests fail and say which command
builds them. `edgeai` runs in a subprocess; $EDGEAI_CLI replaces it (e.g. another build of the CLI).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeai.cluster import binaries
from edgeai.cluster.kube import Kubectl
from edgeai.cluster.processes import alive, processes_naming
from edgeai.cluster.state import ClusterInfo, clusters_root
from edgeai.tools import ToolMissing, find

LOCAL_CLUSTER = "edgeai-it-local"     # not the developer's own edgeai-local-local
CLUSTER_TIMEOUT = 180


def edgeai_command() -> list[str]:
    if cli := os.environ.get("EDGEAI_CLI"):
        return shlex.split(cli)
    return [sys.executable, "-m", "edgeai.cli"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def ok(self) -> Result:
        assert self.code == 0, f"edgeai exited {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        return self


def edgeai(*args: str, timeout: float = 600) -> Result:
    proc = subprocess.run([*edgeai_command(), *args], capture_output=True, text=True, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def require_cli() -> None:
    """`edgeai cluster` and `edgeai up` must be registered in edgeai.cli."""
    if os.environ.get("EDGEAI_CLI"):
        return
    import argparse

    from edgeai import cli
    commands = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    if "cluster" not in commands or "up" not in commands:
        pytest.fail("edgeai.cli does not register `cluster` and `up`: call cluster_cli.add_parsers(sub) "
                    "in edgeai.cli.parser()", pytrace=False)


def require_binaries() -> None:
    """Fail (never skip) naming the command that installs what is missing."""
    missing = binaries.missing()
    if missing:
        pytest.fail(f"local control plane not built ({', '.join(missing)} missing): "
                    f"run bash {binaries.BUILD_SCRIPT} (or bash scripts/bootstrap-tools.sh)", pytrace=False)
    try:
        find("helm")
    except ToolMissing as err:
        pytest.fail(str(err), pytrace=False)


def leftover_processes(name: str) -> list[str]:
    """Live processes of a cluster: by its pid files and by command lines naming its state directory."""
    state = clusters_root() / name
    found = set(processes_naming(state))
    pids = state / "pids"
    if pids.is_dir():
        for f in pids.glob("*.json"):
            record = json.loads(f.read_text())
            if alive(record["pid"], record["argv"]):
                found.add(record["pid"])
    return [f"{pid}: {_command_line(pid)}" for pid in sorted(found) if alive(pid)]


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


@dataclass
class Cluster:
    name: str
    env: str
    site: str

    @property
    def info(self) -> ClusterInfo:
        info = ClusterInfo.load(self.name)
        assert info is not None, f"cluster {self.name} has no state"
        return info

    @property
    def kubectl(self) -> Kubectl:
        return Kubectl(self.info.kubeconfig)

    def up(self, *extra: str, environments: Path | None = None, timeout: str = "3m") -> Result:
        top = ["--environments", str(environments)] if environments else []
        return edgeai(*top, "up", "--env", self.env, "--site", self.site, "--name", self.name,
                      "--provider", "local", "--timeout", timeout, *extra)

    def helm(self, *args: str) -> Any:
        proc = subprocess.run([find("helm"), "--kubeconfig", str(self.info.kubeconfig), *args],
                              capture_output=True, text=True, check=True)
        return json.loads(proc.stdout) if "-o" in args and "json" in args else proc.stdout

    def revision(self, release: str, namespace: str) -> int:
        return self.helm("status", release, "-n", namespace, "-o", "json")["version"]


def start_cluster(name: str, env: str, site: str) -> Cluster:
    require_cli()
    require_binaries()
    edgeai("cluster", "down", "--name", name)   # leftovers of an interrupted earlier run
    result = edgeai("cluster", "up", "--provider", "local", "--env", env, "--site", site, "--name", name,
                    timeout=CLUSTER_TIMEOUT)
    if result.code != 0:
        edgeai("cluster", "down", "--name", name)
        pytest.fail(f"edgeai cluster up failed:\n{result.out}\n{result.err}", pytrace=False)
    return Cluster(name, env, site)


def stop_cluster(cluster: Cluster) -> None:
    """`edgeai cluster down`, then prove no process of the cluster is left."""
    result = edgeai("cluster", "down", "--name", cluster.name)
    assert result.code == 0, result.err
    left = leftover_processes(cluster.name)
    assert not left, f"cluster down left processes behind: {left}"
    assert not (clusters_root() / cluster.name).exists()
