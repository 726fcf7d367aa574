"""The image build definitions under images/<name>/image.yaml, and the image references of the charts.

An image's reference is `<registry>/<repository>:<tag>`; `${PIN}` in a definition is a pin of
scripts/tool-versions.env, so a version is written once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from edgeai import paths, tools

IMAGES = paths.ROOT / "images"
# Where the project publishes its images; every site pulls them through its own registry
# (environment `images.mirror`), see docs/adr/0001-own-images.md.
DEFAULT_REGISTRY = "ghcr.io"
_KEYS = {"repository", "tag", "debian", "maven", "javac", "go", "pip", "pip-no-deps", "project", "stages", "verify"}
# What this repository's own package (edgeai) is built from: pyproject.toml and the package folders.
PROJECT_FOLDERS = ("src/edgeai", "policies")


class DefinitionError(ValueError):
    """An images/<name>/image.yaml that cannot be used (says which file and what is wrong)."""


@dataclass(frozen=True)
class GoBinary:
    module: str
    version: str
    package: str
    ldflags: str = ""
    # `go mod edit -replace` arguments (old=new@version) applied to the module copy before the build:
    # for a module whose go.mod replaces a nested module its zip cannot carry (a folder with its own
    # go.mod is left out of a module zip), e.g. Argo CD's gitops-engine.
    replace: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.package).name


@dataclass(frozen=True)
class Definition:
    name: str                   # the folder under images/
    repository: str
    tag: str
    debian: tuple[str, ...]
    maven: str | None = None    # profile of tools/engines/pom.xml whose jars go into libs/
    javac: str | None = None    # sources (relative to the repository root) compiled into classes/
    go: tuple[GoBinary, ...] = ()
    pip: tuple[str, ...] = ()
    pip_no_deps: tuple[str, ...] = ()
    # This repository's package with these extras (None: not in the image), built from its sources.
    project: tuple[str, ...] | None = None
    stages: dict[str, str] = field(default_factory=dict)   # build-arg -> another image of images/
    verify: str | None = None   # a command whose output must name the tag (Debian-packaged engines)

    @property
    def directory(self) -> Path:
        return IMAGES / self.name

    def ref(self, registry: str = DEFAULT_REGISTRY) -> str:
        return f"{registry}/{self.repository}:{self.tag}"

    def sources_digest(self) -> str:
        """sha256 of everything in the folder and of the definition's resolved pins."""
        digest = hashlib.sha256(canonical(self).encode())
        for path in sorted(p for p in self.directory.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(self.directory)).encode() + b"\0" + path.read_bytes())
        if self.javac:
            for path in sorted((paths.ROOT / self.javac).rglob("*.java")):
                digest.update(path.name.encode() + path.read_bytes())
        if self.maven:
            digest.update((paths.ROOT / "tools" / "engines" / "pom.xml").read_bytes())
        if self.project is not None:
            digest.update(project_digest().encode())
        return digest.hexdigest()

    @property
    def project_requirement(self) -> str | None:
        """The line of requirements.txt that installs this repository's package, if the image has it."""
        if self.project is None:
            return None
        return f"edgeai[{','.join(self.project)}]" if self.project else "edgeai"


def project_sources() -> list[Path]:
    """The files this repository's package is built from, in a stable order."""
    files = [p for folder in PROJECT_FOLDERS for p in (paths.ROOT / folder).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    return [paths.ROOT / "pyproject.toml", *sorted(files)]


def project_digest() -> str:
    """sha256 of this repository's package sources (names and contents)."""
    digest = hashlib.sha256()
    for path in project_sources():
        digest.update(str(path.relative_to(paths.ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def canonical(value: Any) -> str:
    """A stable text of a definition (or part of one) for cache keys: fields left at their empty
    default are omitted, so adding an optional field to the format does not rebuild every image."""
    def strip(v: Any) -> Any:
        if is_dataclass(v):
            v = asdict(v)
        if isinstance(v, dict):
            return {k: strip(x) for k, x in sorted(v.items()) if x not in (None, "", (), [], {})}
        if isinstance(v, list | tuple):
            return [strip(x) for x in v]
        return v
    return json.dumps(strip(value), sort_keys=True)


def _expand(value: Any, pins: dict[str, str], where: str) -> Any:
    if isinstance(value, str):
        def pin(match: re.Match) -> str:
            if match.group(1) not in pins:
                raise DefinitionError(f"{where}: ${{{match.group(1)}}} is not a pin of {paths.TOOL_VERSIONS}")
            return pins[match.group(1)]
        return re.sub(r"\$\{([A-Z0-9_]+)\}", pin, value)
    if isinstance(value, list):
        return [_expand(v, pins, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, pins, where) for k, v in value.items()}
    return value


def load(name: str) -> Definition:
    path = IMAGES / name / "image.yaml"
    if not path.is_file():
        raise DefinitionError(f"no image definition {path}")
    raw = yaml.safe_load(path.read_text()) or {}
    unknown = set(raw) - _KEYS
    if unknown or not {"repository", "tag", "debian"} <= set(raw):
        raise DefinitionError(f"{path}: expected keys repository, tag, debian and optionally "
                              f"{', '.join(sorted(_KEYS - {'repository', 'tag', 'debian'}))}; "
                              f"unknown: {', '.join(sorted(unknown)) or '-'}")
    data = _expand(raw, tools.pinned_versions(), str(path))
    return Definition(
        name=name, repository=data["repository"], tag=str(data["tag"]), debian=tuple(data["debian"]),
        maven=data.get("maven"), javac=data.get("javac"),
        go=tuple(GoBinary(**{**g, "replace": tuple(g.get("replace", ()))}) for g in data.get("go", [])),
        pip=tuple(data.get("pip", [])), pip_no_deps=tuple(data.get("pip-no-deps", [])),
        project=tuple(data["project"]) if "project" in data else None,
        stages=dict(data.get("stages", {})), verify=data.get("verify"))


@cache
def all_definitions() -> dict[str, Definition]:
    return {p.parent.name: load(p.parent.name) for p in sorted(IMAGES.glob("*/image.yaml"))}


def split_ref(ref: str) -> tuple[str, str, str]:
    """(registry, repository, tag-or-digest) of an image reference; registry '' when it has none."""
    name, sep, digest = ref.partition("@")
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else ""
    path = rest if registry else name
    repository, _, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "latest")
    return registry, repository, (digest if sep else tag)


def definition_for(ref: str) -> Definition | None:
    """The definition that builds a reference (any registry: a mirror serves the same repository)."""
    _, repository, tag = split_ref(ref)
    for definition in all_definitions().values():
        if definition.repository == repository and (definition.tag == tag or tag.startswith("sha256:")):
            return definition
    return None
