"""GitOps on the real kind site: a commit reaches the site through Argo CD alone.

`edgeai up` (tests/e2e/conftest.py) leaves the `local` site running Argo CD and its root Application
`site-local`, tracking deploy/local/local at HEAD of the site's Git server (edgeai-git, serving a bare
clone under ~/.cache/edgeai/gitops/). These tests work in a clone of that repository as a developer
and CI would: change environments/local, render, run the gate, push. At the end the served branch is
put back where it was and the site synced to it. Figures (seconds) are printed on stderr.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from edgeai import fleet, paths
from edgeai.gitops import argocd, gitserver
from edgeai.gitops.loop import GateRejected, Loop
from edgeai.images import build, registry
from tests.e2e.kindsite import ENV, MODEL, SITE, eventually

pytestmark = pytest.mark.e2e

NAMESPACE = "edgeai-models"
NORMAL = [21.0, 20.0, 22.0, 0.8, 21.0]
SYNC_TIMEOUT = 300          # a bound for a failing loop, not the goal: scripts/bench_gitops.py measures


@pytest.fixture(scope="module")
def loop(site, tmp_path_factory):
    env = fleet.load_fleet([ENV])[0]
    original = gitserver.publish(log=lambda m: print(m, file=sys.stderr))
    found = Loop.clone_served(env, env.sites[SITE], site.kubectl, tmp_path_factory.mktemp("gitops") / "repo")
    assert found.synced()[0] == original, "edgeai up left the site's Argo CD not synced to the served HEAD"
    yield found
    # Leave the site as edgeai up made it: the served branch back at HEAD, synced.
    gitserver.start()
    eventually("the Git server answers", gitserver.answers, 60)
    subprocess.run(["git", "-C", str(gitserver.repository()), "update-ref", f"refs/heads/{gitserver.BRANCH}",
                    original], check=True)
    found.wait_synced(original, SYNC_TIMEOUT)


def hpa_min(loop: Loop) -> int:
    return loop.kubectl.get("hpa", "-n", NAMESPACE, MODEL)["spec"]["minReplicas"]


def ready_replicas(loop: Loop, name: str = MODEL) -> int:
    return loop.kubectl.get("deployment", "-n", NAMESPACE, name).get("status", {}).get("readyReplicas", 0)


def test_a_commit_reaches_the_site_through_argocd_alone(loop) -> None:
    before = hpa_min(loop)
    loop.set_model(MODEL, replicas=before + 1)
    revision = loop.commit(f"e2e: {MODEL} replicas {before + 1}")
    pushed = loop.merge()
    synced = loop.wait_synced(revision, SYNC_TIMEOUT)
    eventually("the HPA's minimum follows Git", lambda: hpa_min(loop) == before + 1, 60)
    eventually(f"{before + 1} ready replicas", lambda: ready_replicas(loop) >= before + 1, 300)
    print(f"\ngitops: push -> Argo CD synced {synced:.0f}s, -> {before + 1} replicas ready "
          f"{time.monotonic() - pushed:.0f}s", file=sys.stderr)


def test_a_canary_weight_set_in_git_reaches_the_gateway(loop, site) -> None:
    """A canary of the same artifact at 30 %: Argo CD creates its Deployment and the gateway's route."""
    loop.set_model(MODEL, canary={"uri": loop.model(MODEL)["uri"], "weight": 30})
    revision = loop.commit(f"e2e: {MODEL} canary at 30%")
    loop.merge()
    synced = loop.wait_synced(revision, SYNC_TIMEOUT)
    canary = f"{MODEL}-canary"
    eventually("the canary is ready", lambda: ready_replicas(loop, canary) >= 1, 300)
    conf = "\n".join(loop.kubectl.get("configmap", "-n", "edgeai-gateway", "gateway")["data"].values())
    assert f'30% "{canary}.' in conf, f"the gateway does not send 30 % to the canary:\n{conf[:3000]}"
    eventually("predictions still answered", lambda: site.infer(NORMAL, site.api_key)[0] == 200, 120)
    print(f"\ngitops: canary 30% synced {synced:.0f}s after the push", file=sys.stderr)


def test_drift_made_with_kubectl_is_reverted(loop) -> None:
    wanted = hpa_min(loop)
    loop.kubectl.run("patch", "hpa", MODEL, "-n", NAMESPACE, "--type=merge", "-p",
                     f'{{"spec":{{"minReplicas":{wanted + 2}}}}}')
    started = time.monotonic()
    eventually("self-heal restores the HPA", lambda: hpa_min(loop) == wanted, 120, interval=1)
    print(f"\ngitops: kubectl drift reverted in {time.monotonic() - started:.0f}s", file=sys.stderr)


def test_a_commit_the_gate_rejects_is_never_synced(loop) -> None:
    synced_before = loop.synced()[0]
    loop.set_model(MODEL, gpu=1)         # no GPU on the local site: the model would run nowhere
    try:
        with pytest.raises(GateRejected, match="gpu|GPU"):
            loop.merge()
        assert loop.served() == synced_before
        time.sleep(3 * loop.poll)
        assert loop.synced()[0] == synced_before
    finally:
        loop.discard()


def test_the_site_keeps_serving_without_git_and_resyncs_when_it_returns(loop, site) -> None:
    gitserver.stop()
    try:
        time.sleep(3 * loop.poll)
        assert site.infer(NORMAL, site.api_key)[0] == 200, "the site stopped serving when Git went away"
        current = hpa_min(loop)
        loop.set_model(MODEL, replicas=current + 1)
        revision = loop.commit("e2e: while the Git server is down")
        loop.push()                      # the repository is a folder on this host: pushed, not served
        time.sleep(2 * loop.poll)
        assert loop.synced()[0] != revision, "synced a revision no server served"
        assert hpa_min(loop) == current
    finally:
        gitserver.start()
    eventually("the Git server answers again", gitserver.answers, 60)
    back = loop.wait_synced(revision, SYNC_TIMEOUT)
    eventually("the HPA follows Git again", lambda: hpa_min(loop) == current + 1, 60)
    print(f"\ngitops: Git back -> synced {back:.0f}s", file=sys.stderr)


def test_a_model_pod_restarted_without_uplink_serves_from_what_the_site_holds(loop, site) -> None:
    """No Git server, no registry (nothing upstream of the site answers): a restarted model pod starts
    from the model image the node already holds (oci:// artifact, pinned by digest) and serves."""
    pods = [p["metadata"]["name"] for p in site.kubectl.items(
        "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/instance=model-{MODEL}")]
    assert pods, "no model pod"
    gitserver.stop()
    build._docker("stop", "-t", "2", registry.NAME)
    try:
        site.kubectl.run("delete", "pod", "-n", NAMESPACE, "--wait=false", *pods)
        eventually("the restarted model pods are ready", lambda: (
            found := [p for p in site.kubectl.items("pods", "-n", NAMESPACE, "-l",
                                                    f"app.kubernetes.io/instance=model-{MODEL}")
                      if p["metadata"]["name"] not in pods])
            and all(all(c.get("ready") for c in p["status"].get("containerStatuses", [])) and
                    p["status"].get("containerStatuses") for p in found), 300)
        status, body = site.infer(NORMAL, site.api_key)
        assert status == 200 and body["model_name"] == MODEL, body
    finally:
        build._docker("start", registry.NAME)
        gitserver.start()
    eventually("the Git server answers again", gitserver.answers, 60)


def test_edgeai_status_reads_the_site(loop) -> None:
    """`edgeai status` reads the site's Argo CD; it exits 0 once the site is Synced, Healthy, nothing
    pending (the tests before may leave a sync running: pods they restarted are not Ready yet)."""
    def status() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "edgeai.cli", "status", "--env", ENV], cwd=paths.ROOT,
                              capture_output=True, text=True, timeout=120, check=False)

    name = argocd.root_application_name(loop.site)
    proc = status()
    assert name in proc.stdout and loop.served()[:12] in proc.stdout, proc.stdout + proc.stderr
    proc = eventually("edgeai status: Synced, Healthy, nothing pending", lambda: (p := status()).returncode == 0 and p,
                      SYNC_TIMEOUT, interval=5)
    assert "Synced" in proc.stdout and "Healthy" in proc.stdout and "drift: 0" in proc.stdout, proc.stdout
