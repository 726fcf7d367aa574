from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    spec = obj.get("spec") or {}
    resources = {m.get("resource", {}).get("name") for m in spec.get("metrics") or [] if m.get("type") == "Resource"}
    for w in ctx.objects:
        if k8s.hpa_targets(obj, w):
            for c in k8s.containers(k8s.pod_spec(w), init=False):
                requests = (c.get("resources") or {}).get("requests") or {}
                missing = sorted(r for r in resources if r not in requests)
                if missing:
                    yield f"scales on {', '.join(missing)} but container {c.get('name')} requests none"


RULE = Rule(
    id="EAI-HPA-003", title="Autoscaled containers request what they are scaled on", severity="error",
    rationale="Utilisation is measured against requests; without them the autoscaler cannot compute "
              "it and never scales.",
    remediation="Set resources.requests for the metric's resource on every container of the target.",
    check=check, kinds=frozenset({"HorizontalPodAutoscaler"}))
