from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    selector = (obj.get("spec") or {}).get("selector")
    if not selector or not k8s.matches(selector, k8s.pod_labels(obj)):
        yield "selector does not match the pod template's labels"


RULE = Rule(
    id="EAI-SEL-002", title="Workload selectors match their pod template", severity="error",
    rationale="The API server rejects such a workload, and a selector is immutable: fixing it later "
              "means deleting the workload.",
    remediation="Use edgeai.selectorLabels for both the selector and the template labels.",
    check=check, kinds=frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}))
