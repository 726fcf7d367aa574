from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    spec = k8s.pod_spec(obj) or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"pod uses {field}"


RULE = Rule(
    id="EAI-SEC-004", title="No host network, PID or IPC namespace", severity="error",
    rationale="Sharing the node's namespaces bypasses NetworkPolicies and exposes every process of "
              "the node, in any namespace, privileged ones included.",
    remediation="Remove hostNetwork/hostPID/hostIPC; expose ports through a Service.",
    check=check, kinds=k8s.WORKLOADS)
