from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    selector = (obj.get("spec") or {}).get("selector")
    if not selector:  # headless Services for external endpoints select nothing on purpose
        return
    if not any(w.get("kind") in k8s.WORKLOADS and k8s.namespace(w) == k8s.namespace(obj)
               and k8s.matches(selector, k8s.pod_labels(w)) for w in ctx.objects):
        yield f"selector {selector} matches no pods of the site"


RULE = Rule(
    id="EAI-SEL-001", title="Services select pods that exist", severity="error",
    rationale="A Service whose selector matches nothing has no endpoints: every call to it fails, "
              "though every object looks healthy.",
    remediation="Use the workload's selector labels (edgeai.selectorLabels) in the Service.",
    check=check, kinds=frozenset({"Service"}))
