"""What goes into an image besides Debian packages, fetched on the host (never inside a container
build): Go binaries built from their modules, jars from Maven Central, Python wheels from PyPI,
Java classes compiled from this repository and the wheel of its own Python package. Each is cached
under ~/.cache/edgeai by version or content hash; a cache entry is written to `<dir>.partial` and renamed when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from edgeai import paths, tools
from edgeai.images.definitions import GoBinary, canonical, project_digest, project_sources

CACHE = paths.CACHE / "images" / "inputs"
# The Maven profiles of tools/engines/pom.xml, installed by scripts/install-engines.sh, and the pin
# that names their cache folder (~/.cache/edgeai/engines/<profile>-<version>/libs).
MAVEN_PROFILES = {"kafka": "KAFKA_VERSION", "siddhi": "SIDDHI_VERSION"}


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def _complete(final: Path, build) -> Path:
    """Run build(partial_dir) unless `final` is complete; rename the partial folder into place."""
    if (final / ".complete").is_file():
        return final
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    build(partial)
    (partial / ".complete").touch()
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return final


def go_binary(binary: GoBinary, log=print) -> Path:
    """The binary built from its module at its version: inside a copy of the downloaded module, so
    the module's own replace directives and go.sum apply (`go install pkg@version` refuses replaces)."""
    key = hashlib.sha256(canonical(binary).encode()).hexdigest()[:12]
    folder = CACHE / "go" / f"{binary.name}-{binary.version}-{key}"

    def build(out: Path) -> None:
        log(f"  go: building {binary.module}@{binary.version} {binary.package} (once)")
        info = json.loads(_run(["go", "mod", "download", "-json", f"{binary.module}@{binary.version}"]).stdout)
        with tempfile.TemporaryDirectory() as work:
            src = Path(work) / "src"
            shutil.copytree(info["Dir"], src)
            for p in src.rglob("*"):   # the module cache is read-only
                p.chmod(p.stat().st_mode | 0o200)
            env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
            for replacement in binary.replace:
                _run(["go", "mod", "edit", f"-replace={replacement}"], cwd=src, env=env)
            _run(["go", "build", "-trimpath", "-ldflags", f"-s -w {binary.ldflags}".strip(),
                  "-o", str(out / binary.name), binary.package], cwd=src, env=env)
    return _complete(folder, build) / binary.name


def maven_libs(profile: str, log=print) -> Path:
    """The jars of a tools/engines/pom.xml profile, through scripts/install-engines.sh (its cache)."""
    version = tools.pinned_versions()[MAVEN_PROFILES[profile]]
    libs = paths.CACHE / "engines" / f"{profile}-{version}" / "libs"
    log(f"  maven: {profile} {version}")
    _run(["bash", str(paths.ROOT / "scripts" / "install-engines.sh"), profile])
    return libs


def java_classes(sources: str, classpath: Path, log=print) -> Path:
    """sources (relative to the repository) compiled with the host's javac against classpath/*."""
    files = sorted((paths.ROOT / sources).rglob("*.java"))
    digest = hashlib.sha256(str(classpath).encode())
    for f in files:
        digest.update(f.name.encode() + f.read_bytes())
    folder = CACHE / "javac" / digest.hexdigest()[:16]

    def build(out: Path) -> None:
        log(f"  javac: {sources}")
        # --release 17: the images run Debian's Java 17, whatever JDK the host has.
        _run(["javac", "--release", "17", "-proc:none", "-nowarn", "-d", str(out), "-cp", f"{classpath}/*",
              *map(str, files)])
    return _complete(folder, build)


def wheels(requirements: list[str], no_deps: bool = False, log=print) -> Path:
    """Wheels of the requirements and (unless no_deps) their dependencies, sdists built into wheels
    here, for the images' Python 3.11; the Docker build installs them with --no-index."""
    key = hashlib.sha256(f"{no_deps}\n".encode() + "\n".join(requirements).encode()).hexdigest()[:16]
    folder = CACHE / "wheels" / key

    def build(out: Path) -> None:
        log(f"  pip: wheels of {len(requirements)} requirements (once)")
        _run([sys.executable, "-m", "pip", "wheel", "-q", *(["--no-deps"] if no_deps else []),
              "--wheel-dir", str(out), *requirements])
    return _complete(folder, build)


def project_wheels(extras: tuple[str, ...], log=print) -> list[Path]:
    """This repository's package as a wheel (built from a copy of its sources, so the checkout gets no
    build/ or egg-info) and the wheels of its dependencies and extras (cached by their pins)."""
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for e in extras for r in project["optional-dependencies"][e])]
    folder = CACHE / "project" / project_digest()[:16]

    def build(out: Path) -> None:
        log("  pip: the wheel of this repository's package (once per content)")
        with tempfile.TemporaryDirectory() as work:
            for path in project_sources():
                copy = Path(work) / path.relative_to(paths.ROOT)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, copy)
            _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), work])
    own = sorted(_complete(folder, build).glob("*.whl"))
    return [*own, *sorted(wheels(requirements, log=log).glob("*.whl"))]


def go_modules(binary: Path) -> list[str]:
    """The modules linked into a Go binary (`go version -m`), for the SBOM."""
    out = _run(["go", "version", "-m", str(binary)]).stdout
    return [" ".join(line.split()[1:3]) for line in out.splitlines() if line.split()[:1] in (["mod"], ["dep"])]
