"""Build the images of images/ with the container engine, offline, cached by content hash.

1. base: a Debian bookworm root filesystem with the definition's packages (`mmdebstrap`), imported
   as `edgeai-base:<hash of the package list>`; images with the same packages share it;
2. inputs fetched on the host (edgeai.images.inputs) into a build context with the folder's files;
3. `docker build` (classic builder) with `--build-arg BASE=...` and one build-arg per stage image;
4. an SBOM (`sbom.json`: Debian packages, Go modules, jars, wheels) inside the image and in the cache.

An image is rebuilt only when its content hash (the folder, resolved pins, base, stage images)
differs from the label of the image already tagged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgeai import paths
from edgeai.images import inputs
from edgeai.images.definitions import DEFAULT_REGISTRY, Definition, all_definitions

SUITE = "bookworm"
# Bookworm with its point-release and security updates.
DEBIAN_SOURCES = ("deb http://deb.debian.org/debian bookworm main",
                  "deb http://deb.debian.org/debian bookworm-updates main",
                  "deb http://deb.debian.org/debian-security bookworm-security main")
CONTENT_LABEL = "io.edgeai.image.content"
SBOMS = paths.CACHE / "images" / "sbom"
# Documentation, manuals and translations are not needed in a container.
_DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")


class BuildError(RuntimeError):
    """An image could not be built; the message says which and why."""


@functools.cache
def engine() -> str:
    from edgeai.cluster import container_engine
    found = container_engine()
    if not found:
        raise BuildError("no container engine answers (`docker info` fails); run `bash scripts/setup.sh`, "
                         "which installs and starts Debian's docker.io when you are root")
    return found


def _docker(*args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}   # the engine here has no BuildKit
    proc = subprocess.run([engine(), *args], input=stdin, capture_output=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise BuildError(f"{engine()} {' '.join(args[:2])} failed: {proc.stderr.decode()[-4000:]}")
    return proc


def image_label(ref: str, label: str) -> str | None:
    proc = _docker("image", "inspect", "--format", f"{{{{index .Config.Labels \"{label}\"}}}}", ref, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def base_image(packages: tuple[str, ...], log=print) -> str:
    """`edgeai-base:<hash>`: Debian bookworm (minbase) with the packages, made by mmdebstrap once."""
    key = hashlib.sha256(f"{SUITE} {DEBIAN_SOURCES} {sorted(packages)} {_DPKG_EXCLUDES}".encode()).hexdigest()[:16]
    tag = f"edgeai-base:{key}"
    if image_label(tag, CONTENT_LABEL) is not None:
        return tag
    if not shutil.which("mmdebstrap"):
        raise BuildError("mmdebstrap is not installed; run `bash scripts/setup.sh` (it installs Debian's mmdebstrap)")
    log(f"  base {tag}: mmdebstrap {SUITE} with {', '.join(sorted(packages))}")
    with tempfile.TemporaryDirectory() as work:
        rootfs = Path(work) / "rootfs.tar"
        cmd = ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(sorted(packages))}",
               "--aptopt=Acquire::Retries \"5\"", *(f"--dpkgopt=path-exclude={p}" for p in _DPKG_EXCLUDES),
               # update-alternatives links manual pages (openjdk: man1/java.1.gz) even when excluded
               "--essential-hook=mkdir -p \"$1/usr/share/man/man1\"",
               "--customize-hook=chroot \"$1\" dpkg-query -W -f '${Package} ${Version}\\n' > \"$1/.edgeai-packages\"",
               SUITE, str(rootfs), *DEBIAN_SOURCES]
        for _attempt in range(2):   # one retry: a mirror hiccup, or a busy /proc at clean-up
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                break
        if proc.returncode != 0:
            raise BuildError(f"mmdebstrap for {tag} failed:\n{proc.stderr[-4000:]}")
        _docker("import", "--change", f"LABEL {CONTENT_LABEL}={key}", str(rootfs), tag)
    return tag


def _debian_packages(base: str) -> list[str]:
    out = _docker("run", "--rm", "--entrypoint", "cat", base, "/.edgeai-packages").stdout.decode()
    return sorted(line for line in out.splitlines() if line)


def _stage_inputs(d: Definition, context: Path, log) -> dict[str, list[str]]:
    """Copy the definition's inputs into the build context; returns what went in, for the SBOM."""
    sbom: dict[str, list[str]] = {}
    if d.maven:
        libs = inputs.maven_libs(d.maven, log)
        shutil.copytree(libs, context / "libs")
        sbom["maven"] = sorted(p.name for p in libs.glob("*.jar"))
        if d.javac:
            shutil.copytree(inputs.java_classes(d.javac, libs, log), context / "classes",
                            ignore=shutil.ignore_patterns(".complete"))
            sbom["classes"] = [f"{d.javac} (this repository)"]
    if d.go:
        (context / "bin").mkdir(exist_ok=True)
        sbom["go"] = []
        for binary in d.go:
            built = inputs.go_binary(binary, log)
            shutil.copy2(built, context / "bin" / binary.name)
            sbom["go"] += inputs.go_modules(built)
    if d.pip or d.pip_no_deps or d.project is not None:
        (context / "wheels").mkdir()
        for reqs, no_deps, name in ((d.pip, False, "requirements.txt"),
                                    (d.pip_no_deps, True, "requirements-no-deps.txt")):
            listed = [*reqs, *([d.project_requirement] if d.project_requirement and not no_deps else [])]
            (context / name).write_text("".join(f"{r}\n" for r in listed))
            if reqs:
                for wheel in inputs.wheels(list(reqs), no_deps, log).glob("*.whl"):
                    shutil.copy2(wheel, context / "wheels" / wheel.name)
        if d.project is not None:
            for wheel in inputs.project_wheels(d.project, log):
                shutil.copy2(wheel, context / "wheels" / wheel.name)
        sbom["pip"] = sorted(p.name for p in (context / "wheels").glob("*.whl"))
    return sbom


def build(d: Definition, registry: str = DEFAULT_REGISTRY, built: dict[str, str] | None = None,
          force: bool = False, log=print) -> str:
    """Build one image (its stage images must be in `built`: name -> reference); returns its reference."""
    built = built if built is not None else {}
    ref = d.ref(registry)
    base = base_image(d.debian, log)
    stage_args = {arg: built[name] for arg, name in d.stages.items()}
    key = hashlib.sha256("\n".join([d.sources_digest(), base, image_label(base, CONTENT_LABEL) or "",
                                    *(f"{a}={image_label(r, CONTENT_LABEL)}" for a, r in sorted(stage_args.items()))])
                         .encode()).hexdigest()[:16]
    if not force and image_label(ref, CONTENT_LABEL) == key:
        log(f"{ref}: cached ({key})")
        return ref
    log(f"{ref}: building ({key})")
    with tempfile.TemporaryDirectory() as work:
        context = Path(work) / "context"
        shutil.copytree(d.directory, context, ignore=shutil.ignore_patterns("image.yaml"))
        sbom = {"image": ref, "content": key, "debian": _debian_packages(base), **_stage_inputs(d, context, log)}
        for arg, stage in stage_args.items():
            sbom[f"stage {arg}"] = [stage]
        (context / "sbom.json").write_text(json.dumps(sbom, indent=1) + "\n")
        args = ["build", "--quiet", "--label", f"{CONTENT_LABEL}={key}", "--build-arg", f"BASE={base}", "-t", ref]
        for arg, stage in stage_args.items():
            args += ["--build-arg", f"{arg}={stage}"]
        _docker(*args, str(context))
        SBOMS.mkdir(parents=True, exist_ok=True)
        (SBOMS / f"{d.name}.json").write_text(json.dumps(sbom, indent=1) + "\n")
    if d.verify:
        out = _docker("run", "--rm", "--entrypoint", "sh", ref, "-c", f"{d.verify} 2>&1").stdout.decode()
        if d.tag.lstrip("v") not in out:
            _docker("rmi", ref, check=False)
            raise BuildError(f"{d.directory}/image.yaml: tag {d.tag}, but `{d.verify}` in the image says: "
                             f"{out.strip()[:200]}; set the tag to the version Debian ships")
    return ref


def order(names: list[str]) -> list[Definition]:
    """The definitions of `names` and the stage images they need, dependencies first."""
    defs = all_definitions()
    out: list[Definition] = []

    def visit(name: str) -> None:
        if name not in defs:
            raise BuildError(f"no image definition images/{name}/image.yaml")
        for dep in defs[name].stages.values():
            visit(dep)
        if defs[name] not in out:
            out.append(defs[name])
    for name in names:
        visit(name)
    return out


def build_all(names: list[str], registry: str = DEFAULT_REGISTRY, force: bool = False, log=print) -> dict[str, str]:
    """Build images (all of images/ when `names` is empty): bases first, several mmdebstraps at once."""
    todo = order(names or sorted(all_definitions()))
    with ThreadPoolExecutor(max_workers=2) as pool:   # mostly network-bound; each is one mmdebstrap
        list(pool.map(lambda packages: base_image(packages, log), sorted({d.debian for d in todo})))
    built: dict[str, str] = {}
    for d in todo:
        built[d.name] = build(d, registry, built, force, log)
    return built
