from policies import k8s
from policies.engine import Rule

MIN_SECONDS = 10


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj), init=False):
        probe = c.get("livenessProbe")
        if not probe or "startupProbe" in c:
            continue
        tolerance = probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
        if tolerance < MIN_SECONDS:
            yield (f"container {c.get('name')} is restarted after {tolerance}s of failed liveness checks "
                   f"(at least {MIN_SECONDS}s)")


RULE = Rule(
    id="EAI-PRB-003", title="Liveness probes tolerate a slow moment", severity="warning",
    rationale="A hair-trigger liveness probe restarts a busy JVM or model server under load, which "
              "makes the load worse; edge hardware is slow.",
    remediation="Raise periodSeconds × failureThreshold to 10 s or more, or add a startupProbe.",
    check=check, kinds=k8s.LONG_RUNNING)
