from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj)):
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(part) or {})
            if missing:
                yield f"container {c.get('name')} has no {part} for {', '.join(sorted(missing))}"


RULE = Rule(
    id="EAI-RES-001", title="Containers declare requests and limits", severity="error",
    rationale="A one-node site has no spare node: an unbounded container starves Kafka or the "
              "model server, and the capacity check cannot count what is not declared.",
    remediation="Set resources.requests and resources.limits (cpu and memory) in the chart values.",
    check=check, kinds=k8s.WORKLOADS)
