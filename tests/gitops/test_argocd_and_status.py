"""Argo CD's install as the sites get it, and `edgeai status` read from an Application's status."""

from __future__ import annotations

import pytest

from edgeai import fleet, podsecurity
from edgeai.gitops import argocd, status


@pytest.fixture(scope="module")
def local():
    return fleet.load_fleet(["local"])[0]


def _pods(objs):
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet"):
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]


def test_argocd_pods_pass_pod_security_restricted(local) -> None:
    """Argo CD's namespace enforces restricted like every site namespace."""
    for name, spec in _pods(argocd.install_objects(local)):
        assert podsecurity.restricted_violations(spec) == [], name


def test_argocd_runs_the_images_built_here_from_the_site_registry(local) -> None:
    images = {c["image"] for _, spec in _pods(argocd.install_objects(local))
              for c in spec.get("initContainers", []) + spec["containers"]}
    assert images == {f"localhost:5001/edgeai-platform/argocd:v{argocd.version()}",
                      "localhost:5001/edgeai-platform/redis:7.0.15"}
    cm = next(o for o in argocd.install_objects(local) if o["metadata"]["name"] == "argocd-cm")
    assert cm["data"]["timeout.reconciliation"] == "10s"      # environments/local gitops.pollSeconds


def test_the_local_site_pulls_from_its_own_git_server(local) -> None:
    spec = argocd.root_application_spec(local, local.sites["local"])
    assert spec["source"]["repoURL"] == "http://edgeai-git:8080/git/edgeai.git"
    assert spec["source"]["path"] == "deploy/local/local"
    assert argocd.network_policy_specs(local)["argocd-repo-server-git-egress"]["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8080}]


APP = {"metadata": {"name": "site-local"}, "status": {
    "sync": {"status": "OutOfSync", "revision": "a" * 40},
    "health": {"status": "Healthy"},
    "operationState": {"phase": "Running", "message": "waiting for healthy state of apps/Deployment/x"},
    "resources": [{"kind": "ConfigMap", "namespace": "edgeai-gateway", "name": "gateway", "status": "OutOfSync"},
                  {"kind": "Service", "namespace": "edgeai-gateway", "name": "gateway", "status": "Synced"}]}}


def test_status_shows_revision_drift_and_what_is_pending() -> None:
    s = status.application_status(APP, head="b" * 40)
    assert (s["revision"], s["sync"], s["health"]) == ("a" * 40, "OutOfSync", "Healthy")
    assert s["drift"] == ["ConfigMap/edgeai-gateway/gateway"]
    assert any("sync running" in p for p in s["pending"]) and any("bbbbbbbbbbbb" in p for p in s["pending"])
    text = status.table([{"site": "local/local", "git": {"repoURL": "u", "targetRevision": "HEAD", "head": "b" * 40},
                          "applications": [s]}])
    assert "site-local" in text and "drifted  ConfigMap/edgeai-gateway/gateway" in text
    assert status.application_status(APP, head="a" * 40)["pending"] == [
        "sync running (waiting for healthy state of apps/Deployment/x)"]
