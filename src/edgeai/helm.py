"""The real helm binary, driven the way Argo CD drives it."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import threading
from pathlib import Path
from typing import Any

import yaml

from edgeai import paths, tools


class HelmError(RuntimeError):
    """helm refused a chart or its values; the message is helm's own."""


def _run(args: list[str], stdin: str | None = None) -> str:
    proc = subprocess.run(
        [tools.find("helm"), *args], input=stdin, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip() or proc.stdout.strip())
    return proc.stdout


_BUILD_LOCK = threading.Lock()
_built: set[Path] = set()


def _newest_mtime(directory: Path) -> float:
    return max((p.stat().st_mtime for p in directory.rglob("*") if p.is_file()), default=0.0)


def _vendored_current(chart: Path, dependencies: list[dict[str, Any]]) -> bool:
    """Every file:// dependency is vendored as charts/<name>-<version>.tgz, newer than its sources."""
    for dep in dependencies:
        repo = str(dep.get("repository", ""))
        archive = chart / "charts" / f"{dep.get('name')}-{dep.get('version')}.tgz"
        if not repo.startswith("file://") or not archive.is_file():
            return False
        source = (chart / repo.removeprefix("file://")).resolve()
        newest = max(_newest_mtime(source), (chart / "Chart.yaml").stat().st_mtime)
        if archive.stat().st_mtime < newest:
            return False
    return True


def build_dependencies(chart: Path) -> None:
    """Vendor the chart's file:// dependencies (the edgeai-common library), as Argo CD does before
    rendering. Once per chart and never two at a time: `helm dependency build` swaps charts/ through
    a tmpcharts-* folder, so a second build (a thread rendering another model's release, or another
    edgeai process) would pull it from under the first ("lstat .../tmpcharts-...: no such file").
    A vendored copy newer than its sources is kept, so readers are not raced at all."""
    chart = chart.resolve()
    with _BUILD_LOCK:
        if chart in _built:
            return
        meta = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
        dependencies = meta.get("dependencies") or []
        if dependencies:
            locks = paths.CACHE / "locks"
            locks.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256(str(chart).encode()).hexdigest()[:16]
            with open(locks / f"helm-dependency-{name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # other edgeai processes; released on close
                if not _vendored_current(chart, dependencies):
                    _run(["dependency", "build", str(chart), "--skip-refresh"])
        _built.add(chart)


def template(
    chart: Path,
    release: str,
    namespace: str,
    values: dict[str, Any],
    kube_version: str | None = None,
) -> list[dict[str, Any]]:
    """Render a chart like Argo CD's repo server: `helm template` with the release's values inline."""
    build_dependencies(chart)
    args = ["template", release, str(chart), "--namespace", namespace, "--values", "-"]
    if kube_version:
        args += ["--kube-version", kube_version]
    out = _run(args, stdin=yaml.safe_dump(values))
    return [doc for doc in yaml.safe_load_all(out) if doc]


def lint(chart: Path, values: dict[str, Any] | None = None) -> str:
    """`helm lint --strict`; raises HelmError with helm's findings when it fails."""
    build_dependencies(chart)
    args = ["lint", "--strict", str(chart)]
    if values is not None:
        args += ["--values", "-"]
    return _run(args, stdin=yaml.safe_dump(values) if values is not None else None)
