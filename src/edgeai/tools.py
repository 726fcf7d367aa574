"""Find the pinned external tools: on PATH at the pinned version, else in the bootstrap cache."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from edgeai import paths


class ToolMissing(RuntimeError):
    """A pinned tool is neither on PATH at its version nor in the cache."""


def pinned_versions() -> dict[str, str]:
    """KEY=value pairs of scripts/tool-versions.env, e.g. {'HELM_VERSION': 'v3.21.4'}."""
    versions = {}
    for line in paths.TOOL_VERSIONS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


# How each tool prints its version (the first semver in the output is compared).
_VERSION_ARGS = {"helm": ["version", "--short"]}


def cached_path(tool: str) -> Path:
    version = pinned_versions()[f"{tool.upper()}_VERSION"]
    return paths.CACHE / "tools" / tool / version / "bin" / tool


def _version_of(binary: str, tool: str) -> str | None:
    try:
        out = subprocess.run(
            [binary, *_VERSION_ARGS.get(tool, ["--version"])],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout
    except OSError:
        return None
    match = re.search(r"v?\d+\.\d+\.\d+", out)
    return match.group(0).lstrip("v") if match else None


@functools.cache
def find(tool: str) -> str:
    """Absolute path of `tool` at its pinned version, or ToolMissing naming the install command."""
    version = pinned_versions()[f"{tool.upper()}_VERSION"].lstrip("v")
    on_path = shutil.which(tool)
    if on_path and _version_of(on_path, tool) == version:
        return on_path
    cached = cached_path(tool)
    if cached.is_file():
        return str(cached)
    found = f" (found {on_path} at another version)" if on_path else ""
    raise ToolMissing(
        f"{tool} v{version} is not installed{found}; install it with: bash {paths.BOOTSTRAP_SCRIPT}"
    )
