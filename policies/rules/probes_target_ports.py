from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj), init=False):
        declared = k8s.declared_ports(c)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            action = c.get(probe) or {}
            target = (action.get("httpGet") or action.get("tcpSocket") or action.get("grpc") or {}).get("port")
            if target is not None and target not in declared:
                yield f"container {c.get('name')} {probe} targets port {target}, which it does not declare"


RULE = Rule(
    id="EAI-PRB-002", title="Probes target ports the container declares", severity="error",
    rationale="A probe on a port nobody listens on fails forever (restart loop) or, for a named port "
              "that does not exist, is rejected at sync time.",
    remediation="Probe a port listed in the container's ports (by name or number).",
    check=check, kinds=k8s.LONG_RUNNING)
