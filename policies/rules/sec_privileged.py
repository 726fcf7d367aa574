from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj)):
        if (c.get("securityContext") or {}).get("privileged"):
            yield f"container {c.get('name')} is privileged"


RULE = Rule(
    id="EAI-SEC-002", title="No privileged containers, in any namespace", severity="error",
    rationale="A privileged container owns the node; on a one-node site that is the whole site. Even "
              "the log agent's privileged namespace exists for hostPath, not for privileged mode.",
    remediation="Remove securityContext.privileged; grant the one capability needed, if any.",
    check=check, kinds=k8s.WORKLOADS)
