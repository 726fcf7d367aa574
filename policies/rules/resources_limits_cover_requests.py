from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj)):
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for resource in ("cpu", "memory"):
            if (resource in requests and resource in limits
                    and k8s.quantity(limits[resource]) < k8s.quantity(requests[resource])):
                    yield (f"container {c.get('name')} {resource} limit {limits[resource]} is below its "
                           f"request {requests[resource]}")


RULE = Rule(
    id="EAI-RES-002", title="Limits are at least the requests", severity="error",
    rationale="The API server rejects a limit below its request; catching it here names the value "
              "instead of failing a sync on a site.",
    remediation="Raise the limit or lower the request.",
    check=check, kinds=k8s.WORKLOADS)
