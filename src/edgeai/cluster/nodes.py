"""The nodes a site declares (environments/<env>/sites/<site>.yaml `nodes:`), as both providers create them.

A GPU node carries what the NVIDIA GPU operator (GPU feature discovery + device plugin) puts on a
real one: the `nvidia.com/gpu` extended resource and the `nvidia.com/gpu.present|product|count`
labels. It is not tainted: a site's nodes are all alike (the site file declares one node shape),
so on a GPU site every node has GPUs, and a taint would keep Kafka, Redis and the rest off the
whole site. (The model-serving chart still tolerates the taint, for clusters that mix node kinds.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeai import catalog
from edgeai.fleet import Environment, Site

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRESENT = "nvidia.com/gpu.present"
GPU_PRODUCT = "nvidia.com/gpu.product"
GPU_COUNT = "nvidia.com/gpu.count"
REGION_LABEL = "topology.kubernetes.io/region"
MAX_PODS = "110"   # the kubelet's default


@dataclass(frozen=True)
class NodeSpec:
    name: str
    labels: dict[str, str]
    capacity: dict[str, str] = field(default_factory=dict)

    @property
    def gpus(self) -> int:
        return int(self.capacity.get(GPU_RESOURCE, 0))


def node_name(site: Site, index: int) -> str:
    return f"{site.name}-node-{index}"


DEFAULT_DISK = "100Gi"


def site_nodes(env: Environment, site: Site) -> list[NodeSpec]:
    """One NodeSpec per declared node, named <site>-node-<i> (1-based)."""
    nodes = site.nodes
    gpu = nodes.get("gpu") or {}
    out = []
    for i in range(1, site.node_count + 1):
        name = node_name(site, i)
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            REGION_LABEL: site.region,
            catalog.LABELS["environment"]: env.name,
            catalog.LABELS["site"]: site.name,
            catalog.LABELS["region"]: site.region,
        }
        capacity = {"cpu": str(nodes["cpu"]), "memory": str(nodes["memory"]), "pods": MAX_PODS,
                    # pods request ephemeral storage (EAI-RES-004): a site without a declared disk
                    # (a developer's machine) gets a generous one rather than none
                    "ephemeral-storage": str(nodes.get("disk", DEFAULT_DISK))}
        if gpu.get("count"):
            labels.update({GPU_PRESENT: "true", GPU_PRODUCT: str(gpu.get("product", "unknown")),
                           GPU_COUNT: str(gpu["count"])})
            capacity[GPU_RESOURCE] = str(gpu["count"])
        out.append(NodeSpec(name, labels, capacity))
    return out


def kwok_node(spec: NodeSpec, annotation: tuple[str, str]) -> dict[str, Any]:
    """The Node object kwok takes over (by annotation); allocatable = capacity, as the site file says
    its figures are allocatable ones."""
    key, value = annotation
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": spec.name, "labels": {**spec.labels, "type": "kwok"},
                     "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"}},
        "status": {"capacity": dict(spec.capacity), "allocatable": dict(spec.capacity)},
    }
