from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    if k8s.replicas(obj, ctx.objects) <= 1:
        return
    labels = k8s.pod_labels(obj)
    if not any(p.get("kind") == "PodDisruptionBudget" and k8s.namespace(p) == k8s.namespace(obj)
               and k8s.matches((p.get("spec") or {}).get("selector"), labels) for p in ctx.objects):
        yield f"{k8s.replicas(obj, ctx.objects)} replicas but no PodDisruptionBudget"


RULE = Rule(
    id="EAI-REL-001", title="Replicated workloads have a PodDisruptionBudget", severity="error",
    rationale="Without a PDB a node drain (an OS update on a 3-node site) may evict every replica at once.",
    remediation="Use the edgeai.pdb helper (maxUnavailable: 1).",
    check=check, kinds=frozenset({"Deployment", "StatefulSet"}))
