from policies import k8s
from policies.engine import Rule


def _bytes(value) -> float:
    try:
        return k8s.quantity(value)
    except ValueError:
        return 0.0


def check(obj, ctx):
    spec = k8s.pod_spec(obj) or {}
    limit_total = 0.0
    for c in k8s.containers(spec):
        resources = c.get("resources") or {}
        missing = [part for part in ("requests", "limits") if "ephemeral-storage" not in (resources.get(part) or {})]
        if missing:
            yield f"container {c.get('name')} has no ephemeral-storage {' or '.join(missing)}"
        if c in (spec.get("containers") or []):  # init containers run before, not beside them
            limit_total += _bytes((resources.get("limits") or {}).get("ephemeral-storage", 0))
    scratch = 0.0
    for volume in spec.get("volumes") or []:
        empty = volume.get("emptyDir")
        if empty is None:
            continue
        if "sizeLimit" not in empty:
            yield f"emptyDir volume {volume.get('name')} has no sizeLimit"
        elif empty.get("medium") != "Memory":
            scratch += _bytes(empty["sizeLimit"])
    if limit_total and scratch > limit_total:
        yield (f"its emptyDir volumes may hold {scratch / 2**20:.0f}Mi but its containers' ephemeral-storage "
               f"limits add up to {limit_total / 2**20:.0f}Mi: the kubelet evicts the pod before a volume is full")


RULE = Rule(
    id="EAI-RES-004", title="Ephemeral storage is bounded", severity="error",
    rationale="An edge node has one small disk. A model download, a log burst or a scratch file with "
              "no bound fills it, and the kubelet then evicts whatever it picks, Kafka or Redis included.",
    remediation="Set resources.requests and limits of ephemeral-storage on every container, a sizeLimit "
                "on every emptyDir, and limits that cover the pod's emptyDir volumes.",
    check=check, kinds=k8s.WORKLOADS)
