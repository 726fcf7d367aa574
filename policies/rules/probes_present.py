from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj), init=False):
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                yield f"container {c.get('name')} has no {probe}"


RULE = Rule(
    id="EAI-PRB-001", title="Long-running containers have liveness and readiness probes", severity="error",
    rationale="Nobody is on site to notice a hung process: liveness restarts it, readiness keeps "
              "traffic away until it serves, and Argo CD's health follows readiness.",
    remediation="Add livenessProbe and readinessProbe on a port the container serves.",
    check=check, kinds=k8s.LONG_RUNNING)
