from policies import k8s
from policies.engine import Rule


def _hard_spread(spec: dict) -> bool:
    for constraint in spec.get("topologySpreadConstraints") or []:
        if (constraint.get("topologyKey") == "kubernetes.io/hostname"
                and constraint.get("whenUnsatisfiable") == "DoNotSchedule" and constraint.get("maxSkew") == 1):
            return True
    anti = ((spec.get("affinity") or {}).get("podAntiAffinity") or {})
    return any(term.get("topologyKey") == "kubernetes.io/hostname"
               for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])


def check(obj, ctx):
    nodes = (ctx.site.get("nodes") or {}).get("count", 1)
    replicas = k8s.replicas(obj, ctx.objects)
    if nodes <= 1 or replicas <= 1 or not (obj.get("spec") or {}).get("volumeClaimTemplates"):
        return
    if not _hard_spread(k8s.pod_spec(obj) or {}):
        yield (f"{replicas} replicas with local volumes on a {nodes}-node site may be scheduled together "
               "(ScheduleAnyway or no spread) and then stay together: one node failure takes several")


RULE = Rule(
    id="EAI-REL-006", title="Stateful replicas are on separate nodes, required", severity="error",
    rationale="A replica's local volume pins it to the node it first ran on. If the scheduler, under "
              "pressure, puts two Kafka brokers on one node, they stay there for good, and that node's "
              "loss takes two of three replicas: min.insync.replicas can no longer be met.",
    remediation="Spread with whenUnsatisfiable: DoNotSchedule over kubernetes.io/hostname (the "
                "edgeai.topologySpread helper with \"hard\": true) or a required pod anti-affinity.",
    check=check, kinds=frozenset({"StatefulSet"}))
