"""ResourceQuota and LimitRange of each site namespace, derived from the site's declared capacity.

The site file declares its nodes (count, cpu, memory, GPUs); the platform keeps
`capacityHeadroomPercent` of it free for the kubelet, Argo CD and bursts. From that:

- each namespace may request at most the site's allocatable capacity (the whole site minus the
  headroom): a runaway namespace cannot claim more than the site has. How the releases add up
  is the gate's capacity check (`edgeai validate`), which sees the rendered requests;
- limits may add up to BURST x the site's raw capacity (burstable pods);
- GPUs only in the namespaces of per-model components (model serving); 0 everywhere else;
- one container may not exceed one node's allocatable share; containers that declare nothing
  get a small default derived from the node size (every chart declares its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeai import catalog
from edgeai.composition import settings
from edgeai.fleet import Site

BURST = 2               # sum of limits over sum of capacity a namespace may reach
DEFAULT_LIMIT_SHARE = 16  # default container limit = node allocatable / this
DEFAULT_REQUEST_SHARE = 4  # default request = default limit / this
GPU = "nvidia.com/gpu"
GPU_NAMESPACES = frozenset(c.namespace for c in catalog.COMPONENTS.values() if c.per_model)


@dataclass(frozen=True)
class Capacity:
    cpu_milli: int
    memory_mi: int


def _keep() -> int:
    return 100 - settings()["capacityHeadroomPercent"]


def site_allocatable(site: Site) -> Capacity:
    return Capacity(site.cpu_total * 1000 * _keep() // 100, site.memory_gi_total * 1024 * _keep() // 100)


def node_allocatable(site: Site) -> Capacity:
    per_node_gi = site.memory_gi_total // site.node_count
    return Capacity(site.nodes["cpu"] * 1000 * _keep() // 100, per_node_gi * 1024 * _keep() // 100)


def quota_hard(site: Site, namespace: str) -> dict[str, str]:
    alloc = site_allocatable(site)
    gpus = site.gpus_per_node * site.node_count if namespace in GPU_NAMESPACES else 0
    return {
        "requests.cpu": f"{alloc.cpu_milli}m",
        "requests.memory": f"{alloc.memory_mi}Mi",
        "limits.cpu": str(site.cpu_total * BURST),
        "limits.memory": f"{site.memory_gi_total * BURST}Gi",
        f"requests.{GPU}": str(gpus),
    }


def limit_range_item(site: Site) -> dict[str, Any]:
    node = node_allocatable(site)
    limit = Capacity(node.cpu_milli // DEFAULT_LIMIT_SHARE, node.memory_mi // DEFAULT_LIMIT_SHARE)
    return {
        "type": "Container",
        "max": {"cpu": f"{node.cpu_milli}m", "memory": f"{node.memory_mi}Mi"},
        "default": {"cpu": f"{limit.cpu_milli}m", "memory": f"{limit.memory_mi}Mi"},
        "defaultRequest": {"cpu": f"{limit.cpu_milli // DEFAULT_REQUEST_SHARE}m",
                           "memory": f"{limit.memory_mi // DEFAULT_REQUEST_SHARE}Mi"},
    }
