"""A GPU site (staging/stg-us-1) on its own local cluster: GPU nodes as declared, the GPU model on
a GPU node; and `cluster down` after a crash of the CLI still stops every process of the cluster."""

from __future__ import annotations

import json
import subprocess

import pytest
from cluster_harness import edgeai, leftover_processes, start_cluster, stop_cluster

from edgeai import fleet
from edgeai.cluster import nodes
from edgeai.cluster.kube import wait_for
from edgeai.cluster.processes import alive
from edgeai.cluster.state import clusters_root

pytestmark = pytest.mark.integration

NAME = "edgeai-it-staging"
SITE = "stg-us-1"
MODEL = "defect-vision"


@pytest.fixture(scope="module")
def staging():
    return fleet.load_fleet(["staging"])[0]


@pytest.fixture(scope="module")
def gpu_cluster():
    cluster = start_cluster(NAME, "staging", SITE)
    yield cluster
    if (clusters_root() / NAME).exists():   # the last test takes it down itself
        stop_cluster(cluster)


def test_gpu_nodes_are_declared_with_gpus_and_labels(gpu_cluster, staging) -> None:
    site = staging.sites[SITE]
    found = gpu_cluster.kubectl.items("nodes")
    assert len(found) == site.node_count
    for node in found:
        labels, status = node["metadata"]["labels"], node["status"]
        assert labels[nodes.GPU_PRESENT] == "true"
        assert labels[nodes.GPU_PRODUCT] == site.nodes["gpu"]["product"]
        assert status["allocatable"][nodes.GPU_RESOURCE] == str(site.gpus_per_node)
        assert not node["spec"].get("taints")  # all of the site's nodes are GPU nodes


def test_gpu_model_runs_on_a_gpu_node(gpu_cluster) -> None:
    result = gpu_cluster.up("--release", f"model-{MODEL}").ok()
    assert f"model-{MODEL}" in result.out and "installed" in result.out
    kubectl = gpu_cluster.kubectl
    pods = kubectl.items("pods", "-n", "edgeai-models", "-l", f"app.kubernetes.io/instance=model-{MODEL}")
    assert pods
    gpu_nodes = {n["metadata"]["name"] for n in kubectl.items("nodes", "-l", f"{nodes.GPU_PRESENT}=true")}
    for pod in pods:
        assert pod["spec"]["nodeName"] in gpu_nodes
        assert any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
        asked = [c["resources"].get("limits", {}).get(nodes.GPU_RESOURCE) for c in pod["spec"]["containers"]]
        assert "1" in asked, asked


def test_a_pod_asking_more_gpus_than_a_node_has_stays_pending(gpu_cluster, staging) -> None:
    """The advertised GPU count is what the real scheduler allocates against."""
    kubectl = gpu_cluster.kubectl
    too_many = str(staging.sites[SITE].gpus_per_node + 1)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "greedy", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                    "resources": {"limits": {nodes.GPU_RESOURCE: too_many}}}]}}
    kubectl.run("create", "-f", "-", stdin=json.dumps(pod))

    def unschedulable():
        found = kubectl.get("pod", "greedy", "-n", "default")
        return [c for c in found.get("status", {}).get("conditions", [])
                if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"]

    condition = wait_for("the scheduler to refuse the pod", unschedulable, 30)
    assert f"Insufficient {nodes.GPU_RESOURCE}" in condition[0]["message"], condition
    kubectl.run("delete", "pod", "greedy", "-n", "default", "--wait=false")


def test_down_after_a_crash_stops_every_process_and_nothing_else(gpu_cluster) -> None:
    """As after a CLI crash: one pid file lost, another stale (its pid now someone else's)."""
    pids = clusters_root() / NAME / "pids"
    (pids / "kwok.json").unlink()
    bystander = subprocess.Popen(["sleep", "300"])   # a process that is not the cluster's
    try:
        scheduler = json.loads((pids / "kube-scheduler.json").read_text())
        (pids / "kube-scheduler.json").write_text(json.dumps({**scheduler, "pid": bystander.pid}))
        result = edgeai("cluster", "down", "--name", NAME).ok()
        assert "stray pid" in result.out                  # kwok and the scheduler, found by command line
        assert not leftover_processes(NAME)
        assert alive(bystander.pid), "cluster down killed a process that was not the cluster's"
        assert not (clusters_root() / NAME).exists()
    finally:
        bystander.kill()
        bystander.wait()
