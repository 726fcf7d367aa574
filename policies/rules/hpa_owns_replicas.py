from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    if "replicas" not in (obj.get("spec") or {}):
        return
    for hpa in ctx.objects:
        if k8s.hpa_targets(hpa, obj):
            yield f"sets spec.replicas although {k8s.ref(hpa)} owns the replica count"


RULE = Rule(
    id="EAI-HPA-004", title="Autoscaled workloads leave replicas to the autoscaler", severity="warning",
    rationale="Argo CD's self-heal resets spec.replicas to the rendered value after every scale-up, "
              "so the workload oscillates.",
    remediation="Omit spec.replicas when an autoscaler targets the workload.",
    check=check, kinds=frozenset({"Deployment", "StatefulSet"}))
