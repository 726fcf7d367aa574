"""The pinned binaries of the local cluster, as scripts/build-control-plane.sh leaves them in the cache."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from edgeai import paths, tools

BUILD_SCRIPT = "scripts/build-control-plane.sh"
KUBERNETES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def _version_key(binary: str) -> str:
    return "KUBERNETES_VERSION" if binary in KUBERNETES else f"{binary.upper()}_VERSION"


def _tool_dir(binary: str) -> str:
    return "kubernetes" if binary in KUBERNETES else binary


def cached(binary: str) -> Path:
    version = tools.pinned_versions()[_version_key(binary)]
    return paths.CACHE / "tools" / _tool_dir(binary) / version / "bin" / binary


def find(binary: str) -> str:
    """The cached build at the pinned version, or ToolMissing naming the command that builds it."""
    path = cached(binary)
    if path.is_file():
        return str(path)
    version = tools.pinned_versions()[_version_key(binary)]
    raise tools.ToolMissing(f"{binary} {version} is not built; build the local control plane with: "
                            f"bash {BUILD_SCRIPT}  (about 15 minutes once; or bash {paths.BOOTSTRAP_SCRIPT})")


def missing() -> list[str]:
    """Every binary of the local provider that is not built yet."""
    return [b for b in (*KUBERNETES, "etcd", "kwok") if not cached(b).is_file()]


def kubectl() -> str:
    """kubectl at the pinned Kubernetes version: from the cache, else from PATH when it is that version."""
    path = cached("kubectl")
    if path.is_file():
        return str(path)
    on_path = shutil.which("kubectl")
    want = tools.pinned_versions()["KUBERNETES_VERSION"]
    if on_path:
        out = subprocess.run([on_path, "version", "--client"], capture_output=True, text=True,
                             check=False).stdout
        if f"Client Version: {want}" in out:
            return on_path
    return find("kubectl")
