from policies import k8s
from policies.engine import Rule


def check(_, ctx):
    policies = [p for p in ctx.objects if p.get("kind") == "NetworkPolicy"]
    for w in ctx.objects:
        if w.get("kind") not in k8s.LONG_RUNNING:
            continue
        labels = k8s.pod_labels(w)
        if not any(k8s.namespace(p) == k8s.namespace(w)
                   and k8s.matches((p.get("spec") or {}).get("podSelector"), labels) for p in policies):
            yield w, "its pods are selected by no NetworkPolicy"


RULE = Rule(
    id="EAI-NET-001", title="Every pod is covered by a NetworkPolicy", severity="error", scope="site",
    rationale="The site stack denies all traffic by default; a pod without its own policy is either "
              "unreachable (broken) or, where default-deny is missing, open to every pod of the site.",
    remediation="Render a NetworkPolicy for each workload (edgeai.networkPolicy).",
    check=check)
