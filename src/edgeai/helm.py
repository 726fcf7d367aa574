"""The real helm binary, driven the way Argo CD drives it."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml

from edgeai import tools


class HelmError(RuntimeError):
    """helm refused a chart or its values; the message is helm's own."""


def _run(args: list[str], stdin: str | None = None) -> str:
    proc = subprocess.run(
        [tools.find("helm"), *args], input=stdin, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip() or proc.stdout.strip())
    return proc.stdout


@functools.cache
def build_dependencies(chart: Path) -> None:
    """Vendor the chart's file:// dependencies (the edgeai-common library), as Argo CD does before rendering."""
    if "dependencies:" in (chart / "Chart.yaml").read_text():
        _run(["dependency", "build", str(chart), "--skip-refresh"])


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
