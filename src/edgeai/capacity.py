"""What a site's rendered workloads ask of its nodes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SUFFIX = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_QUANTITY = re.compile(r"^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number ('500m' -> 0.5, '1Gi' -> 1073741824)."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(match.group(1)) * _SUFFIX[match.group(2) or ""]


@dataclass
class Demand:
    cpu: float = 0.0      # cores
    memory: float = 0.0   # bytes
    gpu: int = 0
    disk: float = 0.0     # bytes: ephemeral-storage requests and persistent volume claims

    def add(self, other: Demand, times: int = 1) -> None:
        self.cpu += other.cpu * times
        self.memory += other.memory * times
        self.gpu += other.gpu * times
        self.disk += other.disk * times


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template of a workload object (None for anything else)."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return (spec.get("template") or {}).get("spec")
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec", {}).get("template") or {}).get("spec")
    return None


def pod_demand(spec: dict[str, Any]) -> Demand:
    demand = Demand()
    for container in spec.get("containers", []):
        requests = (container.get("resources") or {}).get("requests") or {}
        limits = (container.get("resources") or {}).get("limits") or {}
        demand.cpu += quantity(requests.get("cpu", 0))
        demand.memory += quantity(requests.get("memory", 0))
        demand.gpu += int(limits.get("nvidia.com/gpu", requests.get("nvidia.com/gpu", 0)))
        demand.disk += quantity(requests.get("ephemeral-storage", 0))
    return demand


def claim_bytes(claim: dict[str, Any]) -> float:
    return quantity((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", 0))


def site_demand(objects: list[dict[str, Any]], node_count: int) -> Demand:
    """Steady-state requests: long-running workloads at their (minimum) replica count."""
    hpa_min = {(o["metadata"].get("namespace"), o["spec"]["scaleTargetRef"]["name"]): o["spec"].get("minReplicas", 1)
               for o in objects if o.get("kind") == "HorizontalPodAutoscaler"}
    total = Demand()
    for obj in objects:
        kind = obj.get("kind")
        if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        if kind == "DaemonSet":
            replicas = node_count
        else:
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            replicas = obj["spec"].get("replicas", hpa_min.get(key, 1))
        pod = pod_demand(pod_spec(obj) or {})
        # Local volumes (local-path) take the node's disk too: one claim per replica.
        pod.disk += sum(claim_bytes(c) for c in obj["spec"].get("volumeClaimTemplates") or [])
        total.add(pod, replicas)
    total.disk += sum(claim_bytes(o) for o in objects if o.get("kind") == "PersistentVolumeClaim")
    return total
