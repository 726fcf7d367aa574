from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    selector = (obj.get("spec") or {}).get("selector")
    if not any(w.get("kind") in k8s.WORKLOADS and k8s.namespace(w) == k8s.namespace(obj)
               and k8s.matches(selector, k8s.pod_labels(w)) for w in ctx.objects):
        yield "selects no workload of the site"


RULE = Rule(
    id="EAI-REL-003", title="PodDisruptionBudgets match their workload", severity="error",
    rationale="A PDB whose selector matches nothing protects nothing; it usually means labels drifted.",
    remediation="Use the workload's selector labels (edgeai.selectorLabels) in the PDB.",
    check=check, kinds=frozenset({"PodDisruptionBudget"}))
