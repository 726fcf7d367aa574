"""The `local` provider is a real, secured control plane with the site's nodes."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest
from cluster_harness import edgeai

from edgeai.cluster import nodes
from edgeai.cluster.kube import KubectlError

pytestmark = pytest.mark.integration


def test_status_names_every_process_the_server_and_the_nodes(local_cluster) -> None:
    out = edgeai("cluster", "status", "--name", local_cluster.name).ok().out
    for process in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "provisioner"):
        assert f"process     {process}" in out and "STOPPED" not in out
    assert local_cluster.info.server in out and "ready" in out
    assert "local-node-1" in out and "Ready" in out


def test_everything_listens_on_loopback_only(local_cluster) -> None:
    info = local_cluster.info
    assert info.server.startswith("https://127.0.0.1:")
    with open("/proc/net/tcp") as f:   # local address of every listening socket (state 0A)
        listening = {int(line.split()[1].split(":")[1], 16): line.split()[1].split(":")[0]
                     for line in f.readlines()[1:] if line.split()[3] == "0A"}
    for port in info.ports.values():
        assert listening.get(port) == "0100007F", f"port {port} is not bound to 127.0.0.1 only"


def test_api_server_speaks_tls_with_the_cluster_ca_and_refuses_anonymous_writes(local_cluster) -> None:
    pki_dir = local_cluster.info.dir / "pki"
    ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))   # verifies the 127.0.0.1 SAN
    request = urllib.request.Request(f"{local_cluster.info.server}/api/v1/namespaces/default/secrets")
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(request, context=ctx, timeout=10)
    assert anonymous.value.code in (401, 403)
    ctx.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
    with urllib.request.urlopen(request, context=ctx, timeout=10) as resp:
        assert json.load(resp)["kind"] == "SecretList"


def test_rbac_confines_the_helpers(local_cluster) -> None:
    """kwok and the provisioner get their own ClusterRoles, not cluster-admin."""
    kubectl = local_cluster.kubectl
    can = lambda user, *what: kubectl.run("auth", "can-i", *what, "--as", user, check=False).strip()  # noqa: E731
    assert can("edgeai:kwok", "patch", "nodes", "--subresource=status") == "yes"
    assert can("edgeai:kwok", "get", "secrets", "-A") == "no"
    assert can("edgeai:local-provisioner", "create", "persistentvolumes") == "yes"
    assert can("edgeai:local-provisioner", "create", "pods") == "no"
    # The Node authorizer answers for kubelet identities: only what their own pods need.
    verdict = can("system:node:local-node-1", "list", "secrets", "-A", "--as-group", "system:nodes")
    assert verdict.startswith("no - can only read namespaced object"), verdict


def test_nodes_are_the_sites_nodes(local_cluster, local_env) -> None:
    site = local_env.sites["local"]
    found = {n["metadata"]["name"]: n for n in local_cluster.kubectl.items("nodes")}
    assert sorted(found) == [f"local-node-{i}" for i in range(1, site.node_count + 1)]
    for node in found.values():
        assert node["status"]["allocatable"]["cpu"] == str(site.nodes["cpu"])
        assert node["status"]["allocatable"]["memory"] == site.nodes["memory"]
        assert node["metadata"]["labels"]["edgeai.io/site"] == "local"
        assert not node["spec"].get("taints") and nodes.GPU_RESOURCE not in node["status"]["capacity"]
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True"


def test_pod_security_admission_is_on(local_cluster) -> None:
    """The API server rejects a privileged pod in a namespace that enforces `restricted`."""
    kubectl = local_cluster.kubectl
    kubectl.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "it-pod-security", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}])
    try:
        with pytest.raises(KubectlError, match="violates PodSecurity"):
            kubectl.run("run", "privileged", "-n", "it-pod-security", "--image=busybox:1.36",
                        "--privileged", "--dry-run=server")
    finally:
        kubectl.run("delete", "namespace", "it-pod-security", "--wait=false")


def test_the_sites_storage_class_is_the_default(local_cluster) -> None:
    """Claims without a class get the site's; the provisioner binds them (see test_deploy_local)."""
    kubectl = local_cluster.kubectl
    classes = kubectl.items("storageclasses")
    default = [c for c in classes if c["metadata"].get("annotations", {}).get(
        "storageclass.kubernetes.io/is-default-class") == "true"]
    assert [c["metadata"]["name"] for c in default] == ["local-path"]
