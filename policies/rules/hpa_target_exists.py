from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    target = (obj.get("spec") or {}).get("scaleTargetRef") or {}
    if not any(o.get("kind") == target.get("kind") and k8s.name(o) == target.get("name")
               and k8s.namespace(o) == k8s.namespace(obj) for o in ctx.objects):
        yield f"scales {target.get('kind')}/{target.get('name')}, which the site does not run"


RULE = Rule(
    id="EAI-HPA-002", title="Autoscalers target a workload that exists", severity="error",
    rationale="An autoscaler aimed at a missing workload does nothing and reports errors forever.",
    remediation="Point scaleTargetRef at the workload's kind and name.",
    check=check, kinds=frozenset({"HorizontalPodAutoscaler"}))
