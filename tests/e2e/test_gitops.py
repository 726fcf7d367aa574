"""GitOps on the real kind site: a commit reaches the site through Argo CD alone.

The session's `local` site (tests/e2e/conftest.py) runs Argo CD and the root Application `site-local`,
tracking deploy/local/local at HEAD of the site's Git server (edgeai-git, a bare clone under
~/.cache/edgeai/gitops/). These tests work in a clone of that repository, as a developer or CI would:
change environments/local, render, run the gate, push. The site's state is restored at the end.
Figures (seconds from push to converged) are printed on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from edgeai import fleet, paths
from edgeai.gitops import argocd, gitserver
from edgeai.gitops import local as gitops_local
from tests.e2e.kindsite import ENV, MODEL, SITE, eventually

pytestmark = pytest.mark.e2e

MODEL_FILE = f"environments/local/models/{MODEL}.yaml"
CONVERGE_GOAL = 60          # seconds from push to Argo CD synced (the goal)
NAMESPACE = "edgeai-models"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _edgeai(repo: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """The CLI against the clone's environments/ and charts/ (EDGEAI_ROOT), as CI runs it there."""
    return subprocess.run([sys.executable, "-m", "edgeai.cli", *args], cwd=repo, capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, "EDGEAI_ROOT": str(repo)})


class Loop:
    """The site's GitOps loop as a developer drives it: a clone of the served repository."""

    def __init__(self, site, clone: Path):
        self.site, self.clone = site, clone
        self.env = fleet.load_fleet([ENV])[0]
        self.kubectl = site.kubectl

    def served(self) -> str:
        return _git(gitserver.repository(), "rev-parse", gitserver.BRANCH).strip()

    def app(self) -> tuple[str, str, str]:
        return gitops_local.synced_revision(self.kubectl, self.env.sites[SITE]) or ("", "", "")

    def set_model(self, **fields) -> None:
        path = self.clone / MODEL_FILE
        data = yaml.safe_load(path.read_text())
        lines = [line for line in path.read_text().splitlines() if line.split(":")[0] not in fields]
        lines += [f"{k}: {yaml.safe_dump(v, default_flow_style=True).strip()}" for k, v in fields.items()
                  if v is not None]
        assert data["name"] == MODEL
        path.write_text("\n".join(lines) + "\n")

    def gate(self) -> tuple[bool, str]:
        """What CI runs on the change: the gate, then the rendered tree must be current."""
        validate = _edgeai(self.clone, "validate", "--env", ENV)
        check = _edgeai(self.clone, "gitops", "render", "--env", ENV, "--check")
        return validate.returncode == 0 and check.returncode == 0, validate.stdout + validate.stderr + check.stderr

    def commit(self, message: str, render: bool = True) -> str:
        if render:
            proc = _edgeai(self.clone, "gitops", "render", "--env", ENV)
            assert proc.returncode == 0, proc.stderr
        _git(self.clone, "add", "-A", "environments", "deploy")
        _git(self.clone, "commit", "-q", "-m", message)
        return _git(self.clone, "rev-parse", "HEAD").strip()

    def merge(self) -> float:
        """CI's merge: push to the branch the site tracks only when the gate passes. Returns the time."""
        ok, why = self.gate()
        assert ok, f"the gate rejects the change:\n{why}"
        _git(self.clone, "push", "-q", str(gitserver.repository()), f"HEAD:{gitserver.BRANCH}")
        return time.monotonic()

    def wait_synced(self, revision: str, timeout: float = 300) -> float:
        started = time.monotonic()
        eventually(f"Argo CD synced {revision[:12]}",
                   lambda: (a := self.app())[0] == revision and a[1] == "Synced" and a, timeout, interval=1)
        return time.monotonic() - started

    def hpa_min(self) -> int:
        return self.kubectl.get("hpa", "-n", NAMESPACE, MODEL)["spec"]["minReplicas"]

    def ready_replicas(self) -> int:
        return self.kubectl.get("deployment", "-n", NAMESPACE, MODEL).get("status", {}).get("readyReplicas", 0)


@pytest.fixture(scope="module")
def loop(site, tmp_path_factory):
    env = fleet.load_fleet([ENV])[0]
    gitops_local.install(env, env.sites[SITE], site.info, log=lambda m: print(m, file=sys.stderr))
    clone = tmp_path_factory.mktemp("gitops") / "repo"
    subprocess.run(["git", "clone", "-q", "--branch", gitserver.BRANCH, str(gitserver.repository()), str(clone)],
                   check=True)
    _git(clone, "config", "user.email", "e2e@example.com")
    _git(clone, "config", "user.name", "e2e")
    found = Loop(site, clone)
    original = (clone / MODEL_FILE).read_text()
    yield found
    # Leave the site as it was: the original model file, through Git like any change.
    gitserver.up()
    (clone / MODEL_FILE).write_text(original)
    if _git(clone, "status", "--porcelain", "--", MODEL_FILE).strip():
        revision = found.commit("e2e: restore the model")
        found.merge()
        found.wait_synced(revision)


def test_a_commit_reaches_the_site_through_argocd_alone(loop) -> None:
    before = loop.hpa_min()
    loop.set_model(replicas=before + 1)
    revision = loop.commit(f"e2e: {MODEL} replicas {before + 1}")
    pushed = loop.merge()
    synced = loop.wait_synced(revision, timeout=300)
    eventually("the HPA's minimum follows Git", lambda: loop.hpa_min() == before + 1, 60)
    eventually(f"{before + 1} ready replicas", lambda: loop.ready_replicas() >= before + 1, 300)
    ready = time.monotonic() - pushed
    print(f"\ngitops: push -> Argo CD synced {synced:.0f}s, -> {before + 1} replicas ready {ready:.0f}s",
          file=sys.stderr)
    assert synced <= CONVERGE_GOAL, f"synced {synced:.0f}s after the push (goal {CONVERGE_GOAL}s)"


def test_drift_made_with_kubectl_is_reverted(loop) -> None:
    wanted = loop.hpa_min()
    loop.kubectl.run("patch", "hpa", MODEL, "-n", NAMESPACE, "--type=merge", "-p",
                     f'{{"spec":{{"minReplicas":{wanted + 2}}}}}')
    started = time.monotonic()
    eventually("self-heal restores the HPA", lambda: loop.hpa_min() == wanted, 120, interval=1)
    print(f"\ngitops: kubectl drift reverted in {time.monotonic() - started:.0f}s", file=sys.stderr)


def test_a_commit_the_gate_rejects_is_never_synced(loop) -> None:
    synced_before = loop.app()[0]
    loop.set_model(gpu=1)                # no GPU on the local site: the model would run nowhere
    ok, why = loop.gate()
    assert not ok, "the gate accepted a GPU model on a site without GPUs"
    with pytest.raises(AssertionError, match="the gate rejects"):
        loop.merge()
    assert loop.served() == synced_before
    time.sleep(3 * (loop.env.gitops.get("pollSeconds") or 10))
    assert loop.app()[0] == synced_before
    _git(loop.clone, "checkout", "-q", "--", MODEL_FILE)


def test_the_site_keeps_serving_without_git_and_resyncs_when_it_returns(loop, site) -> None:
    from tests.e2e.test_site import NORMAL

    gitserver.stop()
    try:
        time.sleep(3 * (loop.env.gitops.get("pollSeconds") or 10))
        status, _ = site.infer(NORMAL, site.api_key)
        assert status == 200, "the site stopped serving when Git went away"
        current = loop.hpa_min()
        loop.set_model(replicas=current + 1)
        revision = loop.commit("e2e: while the Git server is down")
        _git(loop.clone, "push", "-q", str(gitserver.repository()), f"HEAD:{gitserver.BRANCH}")   # Git is a folder
        time.sleep(2 * (loop.env.gitops.get("pollSeconds") or 10))
        assert loop.app()[0] != revision, "synced a revision no server served"
        assert loop.hpa_min() == current
    finally:
        gitserver.start()
    eventually("the Git server answers again", gitserver.answers, 60)
    back = loop.wait_synced(revision, timeout=300)
    eventually("the HPA follows Git again", lambda: loop.hpa_min() == current + 1, 60)
    print(f"\ngitops: Git back -> synced {back:.0f}s", file=sys.stderr)


def test_edgeai_status_reads_the_site(loop) -> None:
    proc = _edgeai(paths.ROOT, "status", "--env", ENV, "--json", timeout=120)
    assert argocd.root_application_name(loop.env.sites[SITE]) in proc.stdout, proc.stderr
