"""kubectl, the maintained Kubernetes client, at the pinned version, against one kubeconfig."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from edgeai.cluster import binaries

T = TypeVar("T")
FIELD_MANAGER = "edgeai"


class KubectlError(RuntimeError):
    """kubectl failed; the message is its own."""


class Kubectl:
    def __init__(self, kubeconfig: Path | str):
        self.kubeconfig = str(kubeconfig)
        self.base = [binaries.kubectl(), "--kubeconfig", self.kubeconfig]

    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120) -> str:
        proc = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True,
                              check=False, timeout=timeout)
        if check and proc.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args[:3])}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def get(self, *args: str) -> dict[str, Any]:
        """`kubectl get ... -o json` as data."""
        return json.loads(self.run("get", *args, "-o", "json"))

    def items(self, *args: str) -> list[dict[str, Any]]:
        return self.get(*args).get("items", [])

    def apply(self, objects: Iterable[dict[str, Any]], field_manager: str = FIELD_MANAGER) -> str:
        """Server-side apply: declarative and idempotent (an unchanged object is not written again)."""
        doc = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        if not doc["items"]:
            return ""
        return self.run("apply", "--server-side", "--force-conflicts", f"--field-manager={field_manager}",
                        "-f", "-", stdin=json.dumps(doc))


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.25) -> T:
    """Call probe until it returns something truthy; TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except (KubectlError, OSError, ValueError) as err:
            last_error = err
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)
