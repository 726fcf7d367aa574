"""The simulated nodes and the minimal volume provisioner, without a cluster."""

from __future__ import annotations

import io
import json
from pathlib import Path

from edgeai import fleet
from edgeai.cluster import local, nodes, provisioner

ENVS = {e.name: e for e in fleet.load_fleet()}


def test_every_declared_node_with_its_capacity() -> None:
    env = ENVS["staging"]
    site = env.sites["stg-us-1"]
    specs = nodes.site_nodes(env, site)
    assert [s.name for s in specs] == ["stg-us-1-node-1", "stg-us-1-node-2", "stg-us-1-node-3"]
    for spec in specs:
        assert spec.capacity == {"cpu": "8", "memory": "32Gi", "pods": nodes.MAX_PODS, nodes.GPU_RESOURCE: "1",
                                 "ephemeral-storage": site.nodes["disk"]}
        assert spec.labels["kubernetes.io/hostname"] == spec.name
        node = nodes.kwok_node(spec, local.KWOK_ANNOTATION)
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert node["status"]["allocatable"] == node["status"]["capacity"] == spec.capacity


def test_nodes_without_gpus_have_no_gpu_label_or_capacity() -> None:
    env = ENVS["local"]
    [spec] = nodes.site_nodes(env, env.sites["local"])
    assert spec.gpus == 0
    assert not any(k.startswith("nvidia.com/") for k in spec.labels)


def test_kwok_stages_ship_with_the_package() -> None:
    names = {p.stem for p in local.stage_files()}
    assert {"node-initialize", "pod-ready", "pod-complete", "pod-delete"} <= names


CLAIM = {"kind": "PersistentVolumeClaim",
         "metadata": {"name": "data-redis-0", "namespace": "edgeai-redis", "uid": "u-1",
                      "annotations": {provisioner.SELECTED_NODE: "local-node-1"}},
         "spec": {"storageClassName": "local-path", "accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "5Gi"}}},
         "status": {"phase": "Pending"}}


def test_volume_is_prebound_to_the_claim_on_the_selected_node() -> None:
    pv = provisioner.volume_for(CLAIM, "local-node-1", Path("/v/pvc-u-1"))
    assert pv["metadata"]["name"] == "pvc-u-1"
    assert pv["spec"]["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "namespace": "edgeai-redis", "name": "data-redis-0", "uid": "u-1"}
    assert pv["spec"]["capacity"] == {"storage": "5Gi"} and pv["spec"]["storageClassName"] == "local-path"
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["local-node-1"]}


def test_only_pending_claims_of_its_class_with_a_selected_node_get_a_volume() -> None:
    p = provisioner.Provisioner("kubectl", "kubeconfig", Path("/v"), "local-path")
    assert p._wants_volume(CLAIM) == "local-node-1"
    other_class = {**CLAIM, "spec": {**CLAIM["spec"], "storageClassName": "fast"}}
    no_node = {**CLAIM, "metadata": {**CLAIM["metadata"], "annotations": {}}}
    bound = {**CLAIM, "spec": {**CLAIM["spec"], "volumeName": "pvc-u-1"}, "status": {"phase": "Bound"}}
    assert not any(p._wants_volume(c) for c in (other_class, no_node, bound))


class Chunks(io.RawIOBase):
    """A stream that hands out its bytes in small pieces, splitting documents and characters."""

    def __init__(self, data: bytes, size: int):
        self.data, self.size = data, size

    def read1(self, n: int = -1) -> bytes:
        out, self.data = self.data[:self.size], self.data[self.size:]
        return out


def test_watch_stream_yields_each_document_however_it_is_split() -> None:
    docs = [{"type": "ADDED", "object": {"n": i, "text": "größe ✓"}} for i in range(5)]
    data = "".join(json.dumps(d, indent=2, ensure_ascii=False) + "\n" for d in docs).encode()
    for size in (1, 3, 7, 4096):
        assert list(provisioner.json_stream(Chunks(data, size))) == docs


def test_a_node_is_schedulable_once_ready_and_rid_of_the_lifecycle_taint() -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    tainted = {**ready, "spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}}
    gpu = {**ready, "spec": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}}
    not_ready = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert local.node_schedulable(ready) and local.node_schedulable(gpu)   # a workload taint is the chart's business
    assert not local.node_schedulable(tainted) and not local.node_schedulable(not_ready)
