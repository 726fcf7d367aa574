from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    nodes = (ctx.site.get("nodes") or {}).get("count", 1)
    if nodes <= 1 or k8s.replicas(obj, ctx.objects) <= 1:
        return
    spec = k8s.pod_spec(obj) or {}
    anti = ((spec.get("affinity") or {}).get("podAntiAffinity"))
    if not spec.get("topologySpreadConstraints") and not anti:
        yield (f"{k8s.replicas(obj, ctx.objects)} replicas on a {nodes}-node site without topology spread "
               "or anti-affinity")


RULE = Rule(
    id="EAI-REL-004", title="Replicas spread over the nodes of multi-node sites", severity="error",
    rationale="Three replicas on one node of a three-node site die with that node.",
    remediation="Use the edgeai.topologySpread helper (spreads by kubernetes.io/hostname).",
    check=check, kinds=frozenset({"Deployment", "StatefulSet"}))
