"""`edgeai up` deploys the `local` site to the real API server as its Argo CD would, idempotently;
upgrades roll pods in place, a failing upgrade rolls back, and volumes outlive their releases.

The tests of this module run in order on one deployment (module fixture `deployed`).
"""

from __future__ import annotations

import base64
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgeai import catalog, paths
from edgeai.cluster.kube import KubectlError
from edgeai.composition import compose
from edgeai.site_objects import ALLOW_DNS, DEFAULT_DENY, LIMIT_RANGE_NAME, QUOTA_NAME
from policies import k8s

pytestmark = pytest.mark.integration

WORKLOADS = "deployments,statefulsets,daemonsets"
PS = "pod-security.kubernetes.io"


@pytest.fixture(scope="module")
def releases(local_env):
    return compose(local_env, local_env.sites["local"])


@pytest.fixture(scope="module")
def deployed(local_cluster):
    return local_cluster.up().ok()


def environments_with(tmp_path: Path, components: dict[str, Any]) -> Path:
    """A copy of environments/ whose `local` site file also sets `components` (a reviewed change),
    merged into what the file already sets."""
    def merge(into: dict[str, Any], change: dict[str, Any]) -> None:
        for key, value in change.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    root = tmp_path / "environments"
    shutil.copytree(paths.ENVIRONMENTS, root)
    site_file = root / "local" / "sites" / "local.yaml"
    header, _, body = site_file.read_text().partition("\n")      # line 1: the editor schema header
    site = yaml.safe_load(body)
    merge(site.setdefault("components", {}), components)
    site_file.write_text(f"{header}\n{yaml.safe_dump(site, sort_keys=False)}")
    return root


def workloads_of(kubectl, namespace: str, release: str) -> list[dict[str, Any]]:
    return kubectl.items(WORKLOADS, "-n", namespace, "-l", f"app.kubernetes.io/instance={release}")


def all_ready(kubectl, releases) -> list[str]:
    """Names of workloads that are not fully rolled out and ready (empty when all are)."""
    pending = []
    for r in releases:
        for w in workloads_of(kubectl, r.namespace, r.name):
            spec, status = w["spec"], w.get("status", {})
            if w["kind"] == "DaemonSet":
                ok = status.get("numberReady", 0) == status.get("desiredNumberScheduled", -1)
            else:
                want = spec.get("replicas", 1)
                ok = status.get("readyReplicas", 0) == want and status.get("updatedReplicas", 0) == want
            if not ok:
                pending.append(f"{w['kind']} {r.namespace}/{w['metadata']['name']}")
    return pending


def uids(kubectl, kind: str) -> dict[str, str]:
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o["metadata"]["uid"]
            for o in kubectl.items(kind, "--all-namespaces")}


def pvcs(kubectl) -> dict[str, tuple[str, str, str]]:
    """namespace/name -> (uid, bound volume, phase) of every claim."""
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}":
            (o["metadata"]["uid"], o["spec"].get("volumeName", ""), o["status"].get("phase", ""))
            for o in kubectl.items("pvc", "--all-namespaces")}


def pod_uids(kubectl, namespace: str, release: str, component: str | None = None) -> set[str]:
    selector = f"app.kubernetes.io/instance={release}"
    if component:
        selector += f",app.kubernetes.io/component={component}"
    return {p["metadata"]["uid"] for p in kubectl.items("pods", "-n", namespace, "-l", selector)
            if p["metadata"].get("ownerReferences", [{}])[0].get("kind") != "Job"}


def test_every_release_is_installed_and_ready(local_cluster, deployed, releases) -> None:
    kubectl = local_cluster.kubectl
    rows = {line.split()[1]: line.split() for line in deployed.out.splitlines()[1:]}
    assert set(rows) == {r.name for r in releases}, deployed.out
    for r in releases:
        component, _, namespace, revision, action, ready = rows[r.name][:6]
        assert (component, namespace, revision, action) == (r.component, r.namespace, "1", "installed")
        have, want = ready.split("/")
        assert have == want and int(want) > 0, rows[r.name]
        assert local_cluster.helm("status", r.name, "-n", r.namespace, "-o", "json")["info"]["status"] == "deployed"
    assert not all_ready(kubectl, releases)
    # Waves in order: a wave starts once the previous one is healthy.
    waves = [line for line in deployed.err.splitlines() if line.startswith("wave ")]
    assert [int(w.split()[1].rstrip(":")) for w in waves] == sorted({r.sync_wave for r in releases})
    assert "kafka.edgeai-kafka.svc:9092" in deployed.out   # endpoints in the status table


def test_stateful_workloads_have_bound_volumes(local_cluster, deployed) -> None:
    claims = pvcs(local_cluster.kubectl)
    assert {"edgeai-kafka/data-kafka-0", "edgeai-redis/data-redis-0"} <= set(claims)
    assert all(phase == "Bound" and volume for _, volume, phase in claims.values()), claims


def test_namespaces_enforce_their_pod_security_level(local_cluster, deployed, releases, local_env) -> None:
    version = "v" + ".".join(local_env.kubernetes_version.split(".")[:2])
    found = {n["metadata"]["name"]: n["metadata"]["labels"] for n in local_cluster.kubectl.items("namespaces")}
    for r in releases:
        labels = found[r.namespace]
        assert labels[f"{PS}/enforce"] == catalog.COMPONENTS[r.component].pod_security == "restricted"
        assert labels[f"{PS}/enforce-version"] == version
        assert labels["edgeai.io/site"] == "local"


def test_real_api_server_rejects_a_privileged_pod_in_every_site_namespace(local_cluster, deployed,
                                                                            releases) -> None:
    for namespace in sorted({r.namespace for r in releases}):
        with pytest.raises(KubectlError, match=r'violates PodSecurity "restricted'):
            local_cluster.kubectl.run("run", "privileged", "-n", namespace, "--image=busybox:1.36",
                                      "--privileged", "--dry-run=server")


def test_network_policies_deny_by_default_and_charts_allow_the_data_path(local_cluster, deployed,
                                                                         releases) -> None:
    policies = local_cluster.kubectl.items("networkpolicies", "--all-namespaces")
    for namespace in {r.namespace for r in releases}:
        mine = {p["metadata"]["name"]: p["spec"] for p in policies if p["metadata"]["namespace"] == namespace}
        assert mine[DEFAULT_DENY] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert ALLOW_DNS in mine
        assert len(mine) > 2, f"{namespace}: no allow rule from its chart"


def test_quotas_limit_ranges_and_secrets(local_cluster, deployed, releases) -> None:
    kubectl = local_cluster.kubectl
    for namespace in {r.namespace for r in releases}:
        kubectl.run("get", "resourcequota", QUOTA_NAME, "-n", namespace)
        kubectl.run("get", "limitrange", LIMIT_RANGE_NAME, "-n", namespace)
    secret = kubectl.get("secret", "redis-auth", "-n", "edgeai-redis")
    password = base64.b64decode(secret["data"]["password"]).decode()
    values_file = local_cluster.info.dir / "site-secrets.json"
    assert stat.S_IMODE(values_file.stat().st_mode) == 0o600
    assert password in values_file.read_text() and len(password) >= 24
    assert password not in deployed.out + deployed.err
    for name, namespace in (("grafana-admin", "edgeai-monitoring"), ("gateway-api-keys", "edgeai-gateway"),
                            ("cep-api-key", "edgeai-siddhi"),
                            ("model-storage", "edgeai-models"), ("redis-auth", "edgeai-siddhi")):
        kubectl.run("get", "secret", name, "-n", namespace)


def test_every_object_a_pod_needs_exists(local_cluster, deployed) -> None:
    """kwok marks pods Ready without a kubelet resolving their references, so a Secret missing from a
    pod's namespace (CreateContainerConfigError on a real node) is looked for here, on the live pods."""
    kubectl = local_cluster.kubectl
    present = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): k8s.data_keys(o)
               for o in kubectl.items("secrets,configmaps,persistentvolumeclaims,serviceaccounts",
                                      "--all-namespaces")}
    pods = [p for p in kubectl.items("pods", "--all-namespaces") if p["metadata"]["namespace"].startswith("edgeai-")]
    assert pods
    missing = []
    for pod in pods:
        ns = pod["metadata"]["namespace"]
        for kind, name, key, where in k8s.pod_refs(pod["spec"]):
            keys = present.get((kind, ns, name))
            if keys is None or (key is not None and key not in keys):
                missing.append((ns, pod["metadata"]["name"], where, kind, name, key))
    assert not missing, missing


def test_second_up_changes_nothing(local_cluster, deployed, releases) -> None:
    kubectl = local_cluster.kubectl
    revisions = {r.name: local_cluster.revision(r.name, r.namespace) for r in releases}
    before = {kind: uids(kubectl, kind) for kind in ("pods", "secrets", "pvc")}
    versions = {f"{o['kind']}/{o['metadata'].get('namespace')}/{o['metadata']['name']}":
                o["metadata"]["resourceVersion"]
                for o in kubectl.items("namespaces,networkpolicies,resourcequotas,limitranges,secrets,"
                                       + WORKLOADS, "--all-namespaces")
                if o["kind"] != "ResourceQuota"}   # quota status follows usage
    again = local_cluster.up().ok()
    assert {line.split()[4] for line in again.out.splitlines()[1:]} == {"unchanged"}, again.out
    assert {r.name: local_cluster.revision(r.name, r.namespace) for r in releases} == revisions
    assert {kind: uids(kubectl, kind) for kind in ("pods", "secrets", "pvc")} == before
    after = {f"{o['kind']}/{o['metadata'].get('namespace')}/{o['metadata']['name']}":
             o["metadata"]["resourceVersion"]
             for o in kubectl.items("namespaces,networkpolicies,limitranges,secrets," + WORKLOADS,
                                    "--all-namespaces")}
    assert after == versions


REDIS_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "768Mi"}}


def test_values_change_upgrades_in_place(local_cluster, deployed, releases, tmp_path) -> None:
    kubectl = local_cluster.kubectl
    revision = local_cluster.revision("redis", "edgeai-redis")
    # the Redis server's pods (the release also runs the query API, whose resources are its own)
    pods, claims = pod_uids(kubectl, "edgeai-redis", "redis", "server"), pvcs(kubectl)
    result = local_cluster.up(environments=environments_with(tmp_path, {"redis": {"resources": REDIS_RESOURCES}}))
    actions = {line.split()[1]: line.split()[4] for line in result.ok().out.splitlines()[1:]}
    assert actions.pop("redis") == "upgraded" and set(actions.values()) == {"unchanged"}
    assert local_cluster.revision("redis", "edgeai-redis") == revision + 1
    new_pods = pod_uids(kubectl, "edgeai-redis", "redis", "server")
    assert new_pods and not new_pods & pods, "redis pods were not rolled"
    server = kubectl.get("statefulset", "redis", "-n", "edgeai-redis")["spec"]["template"]["spec"]["containers"][0]
    assert server["resources"]["limits"]["memory"] == "768Mi"
    assert pvcs(kubectl) == claims and not all_ready(kubectl, releases)


def test_failing_upgrade_rolls_back_and_keeps_volumes_and_secrets(local_cluster, deployed, releases,
                                                                  tmp_path) -> None:
    """A container larger than a node (over the LimitRange the site stack sets) is never admitted:
    the rollout cannot finish, helm --atomic rolls the release back, nothing stored is lost."""
    kubectl = local_cluster.kubectl
    revision = local_cluster.revision("redis", "edgeai-redis")
    claims, secrets = pvcs(kubectl), uids(kubectl, "secrets")
    too_big = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "64Gi"}}
    result = local_cluster.up("--release", "redis",
                              environments=environments_with(tmp_path, {"redis": {"resources": too_big}}),
                              timeout="20s")
    assert result.code == 1 and "release redis failed (rolled back)" in result.err, result.err
    history = local_cluster.helm("history", "redis", "-n", "edgeai-redis", "-o", "json")
    assert [h["status"] for h in history[-2:]] == ["failed", "deployed"]
    assert history[-1]["revision"] == revision + 2 and "Rollback to" in history[-1]["description"]
    server = kubectl.get("statefulset", "redis", "-n", "edgeai-redis")["spec"]["template"]["spec"]["containers"][0]
    assert server["resources"]["limits"]["memory"] == REDIS_RESOURCES["limits"]["memory"]
    from edgeai.cluster.kube import wait_for
    wait_for("redis to be ready after the rollback", lambda: not all_ready(kubectl, releases), 60)
    assert pvcs(kubectl) == claims
    assert {k: v for k, v in uids(kubectl, "secrets").items() if "sh.helm.release" not in k} == \
        {k: v for k, v in secrets.items() if "sh.helm.release" not in k}


RELEASES_WITH_VOLUMES = ["kafka", "redis", "monitoring", "siddhi"]


@pytest.mark.parametrize("release", RELEASES_WITH_VOLUMES)
def test_uninstall_and_reinstall_keep_volumes(local_cluster, deployed, releases, release) -> None:
    kubectl = local_cluster.kubectl
    r = next(r for r in releases if r.name == release)
    claims = {k: v for k, v in pvcs(kubectl).items() if k.startswith(f"{r.namespace}/")}
    assert claims, f"{release} has no volume"
    local_cluster.helm("uninstall", release, "-n", r.namespace, "--wait")
    assert not workloads_of(kubectl, r.namespace, release)
    kept = {k: v for k, v in pvcs(kubectl).items() if k.startswith(f"{r.namespace}/")}
    assert kept == claims, "helm uninstall deleted a volume"
    result = local_cluster.up("--release", release).ok()
    assert f" {release} " in result.out and "installed" in result.out
    assert {k: v for k, v in pvcs(kubectl).items() if k.startswith(f"{r.namespace}/")} == claims
    assert not all_ready(kubectl, [r])
