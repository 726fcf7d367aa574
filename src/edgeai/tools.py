"""Find the pinned external tools: on PATH at the pinned version, else in the bootstrap cache."""

from __future__ import annotations

import functools
import hashlib
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
            versions[key.strip()] = value.split("#", 1)[0].strip()  # a comment may follow the value
    return versions


# How each tool prints its version (the first semver in the output is compared).
_VERSION_ARGS = {"helm": ["version", "--short"], "kubeconform": ["-v"]}


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


# edgeai-engine (tools/engine) is built from this repository, so it is keyed by its sources rather
# than pinned: scripts/build-engine.sh computes the same key.
ENGINE_SOURCES = paths.ROOT / "tools" / "engine"
ENGINE_BUILD_SCRIPT = "scripts/build-engine.sh"


def engine_key() -> str:
    """sha256 of sha256sum-style lines ("<sha256>  <file>") of tools/engine's *.go, go.mod, go.sum."""
    files = sorted(p.name for p in ENGINE_SOURCES.iterdir()
                   if p.is_file() and (p.suffix == ".go" or p.name in ("go.mod", "go.sum")))
    lines = "".join(f"{hashlib.sha256((ENGINE_SOURCES / f).read_bytes()).hexdigest()}  {f}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def engine_path() -> str:
    """The edgeai-engine binary built from the current sources, or ToolMissing naming the build command."""
    binary = paths.CACHE / "tools" / "engine" / engine_key() / "bin" / "edgeai-engine"
    if binary.is_file():
        return str(binary)
    raise ToolMissing(f"edgeai-engine is not built for the current tools/engine sources; "
                      f"build it with: bash {ENGINE_BUILD_SCRIPT}")
