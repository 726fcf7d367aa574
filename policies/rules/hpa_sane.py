from policies.engine import Rule


def check(obj, ctx):
    spec = obj.get("spec") or {}
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
    if low < 1:
        yield f"minReplicas {low} scales the workload to zero"
    if high < low:
        yield f"maxReplicas {high} is below minReplicas {low}"
    if not spec.get("metrics"):
        yield "has no metrics to scale on"


RULE = Rule(
    id="EAI-HPA-001", title="Autoscalers have a sane range and a metric", severity="error",
    rationale="A range that is empty or reaches zero either never scales or takes the model offline.",
    remediation="Set 1 ≤ minReplicas ≤ maxReplicas and at least one metric.",
    check=check, kinds=frozenset({"HorizontalPodAutoscaler"}))
