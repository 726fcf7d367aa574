"""Small accessors over rendered Kubernetes objects, shared by the rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edgeai.capacity import pod_spec, quantity
from edgeai.objects import object_ref

Obj = dict[str, Any]
WORKLOADS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"})
LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet"})

__all__ = ["pod_spec", "quantity", "containers", "labels", "name", "namespace", "ref", "matches", "hpa_targets",
           "declared_ports", "pod_labels", "replicas", "pod_refs", "data_keys", "WORKLOADS", "LONG_RUNNING"]


def containers(spec: dict[str, Any] | None, init: bool = True) -> Iterator[dict[str, Any]]:
    if not spec:
        return
    if init:
        yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def name(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def namespace(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


ref = object_ref


def pod_labels(obj: Obj) -> dict[str, str]:
    """Labels of the pods a workload creates."""
    if obj.get("kind") == "Pod":
        return labels(obj)
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def matches(selector: dict[str, Any] | None, target: dict[str, str]) -> bool:
    """Label selector semantics (matchLabels and matchExpressions); an empty selector matches all."""
    if selector is None:
        return False
    match_labels = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if not isinstance(match_labels, dict):
        return False
    if any(target.get(k) != v for k, v in match_labels.items() if k != "matchExpressions"):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and target.get(key) not in values:
            return False
        if op == "NotIn" and target.get(key) in values:
            return False
        if op == "Exists" and key not in target:
            return False
        if op == "DoesNotExist" and key in target:
            return False
    return True


def replicas(obj: Obj, objects: list[Obj] | tuple[Obj, ...] = ()) -> int:
    """Replicas of a workload: spec.replicas, else the minimum of an HPA targeting it, else 1."""
    spec = obj.get("spec") or {}
    if "replicas" in spec:
        return int(spec["replicas"])
    for hpa in objects:
        if hpa_targets(hpa, obj):
            return int(hpa["spec"].get("minReplicas", 1))
    return 1


def hpa_targets(hpa: Obj, obj: Obj) -> bool:
    """Whether a HorizontalPodAutoscaler scales this workload."""
    target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    return (hpa.get("kind") == "HorizontalPodAutoscaler" and namespace(hpa) == namespace(obj)
            and target.get("kind") == obj.get("kind") and target.get("name") == name(obj))


def declared_ports(container: dict[str, Any]) -> set:
    """Names and numbers of a container's ports (probes and annotations may use either)."""
    ports = container.get("ports") or []
    return {p.get("name") for p in ports} | {p.get("containerPort") for p in ports}


def pod_refs(spec: dict[str, Any] | None) -> Iterator[tuple[str, str, str | None, str]]:
    """(kind, name, key, where) of every object of its namespace a pod spec needs to start: Secrets
    and ConfigMaps of env, envFrom, volumes (projected ones too) and image pull secrets, claims of
    persistentVolumeClaim volumes, a service account other than `default`. `key` is the data key it
    reads, None when it takes the whole object. References marked `optional: true` are left out:
    the pod starts without them."""
    if not spec:
        return
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account and account != "default":     # the controller manager creates `default` in every namespace
        yield "ServiceAccount", account, None, "serviceAccountName"
    for c in containers(spec):
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref_ = source.get(field)
                if ref_ and not ref_.get("optional"):
                    where = f"container {c.get('name')} env {env.get('name')}"
                    yield kind, ref_.get("name", ""), ref_.get("key"), where
        for env_from in c.get("envFrom") or []:
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref_ = env_from.get(field)
                if ref_ and not ref_.get("optional"):
                    yield kind, ref_.get("name", ""), None, f"container {c.get('name')} envFrom"
    for volume in spec.get("volumes") or []:
        for source in [volume, *((volume.get("projected") or {}).get("sources") or [])]:
            for field, kind, name_field in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
                ref_ = source.get(field)
                if not ref_ or ref_.get("optional"):
                    continue
                name_ = ref_.get(name_field) or ref_.get("name", "")
                where = f"volume {volume.get('name')}"
                keys = [item.get("key") for item in ref_.get("items") or []]
                for key in keys or [None]:
                    yield kind, name_, key, where
        claim = volume.get("persistentVolumeClaim")
        if claim:
            yield "PersistentVolumeClaim", claim.get("claimName", ""), None, f"volume {volume.get('name')}"
    for pull in spec.get("imagePullSecrets") or []:
        yield "Secret", pull.get("name", ""), None, "imagePullSecrets"


def data_keys(obj: Obj) -> frozenset[str]:
    """Keys of a ConfigMap's or Secret's data."""
    fields = ("data", "binaryData") if obj.get("kind") == "ConfigMap" else ("data", "stringData")
    return frozenset(k for f in fields for k in (obj.get(f) or {}))
