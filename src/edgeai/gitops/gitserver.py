"""The local site's Git server: images/git-server (git http-backend behind lighttpd) in a container on
the kind network as `edgeai-git`, serving a bare clone of this repository read-only — the repository
the local site's Argo CD pulls (environments/local/environment.yaml gitops.repoURL).

The bare clone lives under ~/.cache/edgeai/gitops/ (mounted read-only into the container); commits
reach it by `git push` from the host (`publish`, run by `edgeai up`, serves this checkout's HEAD).
The host reaches the server on 127.0.0.1:5080.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

from edgeai import paths
from edgeai.images import build
from edgeai.images.definitions import all_definitions

NAME = "edgeai-git"
PORT = 8080                              # inside the kind network: http://edgeai-git:8080/git/edgeai.git
HOST_PORT = 5080
REPOSITORY = "edgeai.git"
BRANCH = "main"                          # the bare clone's HEAD (the local site tracks HEAD)
ROOT = paths.CACHE / "gitops" / "repositories"
HOST_URL = f"http://127.0.0.1:{HOST_PORT}/git/{REPOSITORY}"


class GitServerError(RuntimeError):
    pass


def repository() -> Path:
    return ROOT / REPOSITORY


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitServerError(f"git {' '.join(args[:3])}: {proc.stderr.strip()}")
    return proc.stdout


def publish(source: Path | None = None, log=print) -> str:
    """The bare clone exists and its main is `source`'s HEAD: the local site runs what this checkout
    committed. Commits pushed there that HEAD lacks (a test's, a colleague's experiment) are not lost:
    they are kept under refs/edgeai/replaced/<time> and said. Returns the served commit."""
    source = source or paths.ROOT
    bare = repository()
    if not (bare / "HEAD").is_file():
        ROOT.mkdir(parents=True, exist_ok=True)
        tmp = ROOT / f".{REPOSITORY}.partial"
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
        _git("init", "--bare", "--initial-branch", BRANCH, str(tmp))
        tmp.rename(bare)
    proc = subprocess.run(["git", "push", "-q", str(bare), f"HEAD:refs/heads/{BRANCH}"], cwd=source,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        served = _git("rev-parse", BRANCH, cwd=bare).strip()
        kept = f"refs/edgeai/replaced/{int(time.time())}"
        _git("update-ref", kept, served, cwd=bare)
        _git("push", "-q", "--force", str(bare), f"HEAD:refs/heads/{BRANCH}", cwd=source)
        log(f"gitops: the site repository's {BRANCH} ({served[:12]}) had commits this checkout lacks; "
            f"it now serves this checkout's HEAD, the old {BRANCH} is kept as {kept}")
    _git("symbolic-ref", "HEAD", f"refs/heads/{BRANCH}", cwd=bare)
    _git("update-server-info", cwd=bare)
    return _git("rev-parse", BRANCH, cwd=bare).strip()


def _state() -> str | None:
    proc = build._docker("inspect", "--format", "{{.State.Status}}", NAME, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def answers(timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{HOST_URL}/info/refs?service=git-upload-pack", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def up(network: str = "kind", log=print) -> str:
    """Start the Git server (building its image if needed) on the kind network; idempotent."""
    image = build.build(all_definitions()["git-server"], log=log)
    state = _state()
    if state not in ("running", None):
        build._docker("start", NAME)
    elif state is None:
        log(f"starting the site's Git server {NAME} ({HOST_URL} from this host)")
        build._docker("run", "-d", "--name", NAME, "--restart", "unless-stopped", "--network", network,
                      "-p", f"127.0.0.1:{HOST_PORT}:{PORT}", "-v", f"{ROOT}:/srv/git:ro", image)
    deadline = time.monotonic() + 30
    while not answers():
        if time.monotonic() > deadline:
            raise GitServerError(f"the Git server {NAME} does not answer on {HOST_URL}")
        time.sleep(0.5)
    return HOST_URL


def stop() -> None:
    build._docker("stop", "-t", "2", NAME)


def start() -> None:
    build._docker("start", NAME)


def down() -> list[str]:
    if _state() is None:
        return []
    build._docker("rm", "-f", NAME)
    return [f"Git server container {NAME} (its repository stays in {repository()})"]
