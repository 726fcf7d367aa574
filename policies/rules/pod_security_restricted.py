from edgeai import capacity, podsecurity
from policies.engine import Context, Obj, Rule


def check(obj: Obj, ctx: Context):
    spec = capacity.pod_spec(obj)
    if spec is None or ctx.level_of(obj) != "restricted":
        return []
    return podsecurity.restricted_violations(spec)


RULE = Rule(
    id="EAI-SEC-001",
    title="Pods meet Pod Security restricted",
    severity="error",
    rationale="Edge sites run unattended; a container that can escalate privileges or reach the "
              "host turns one compromised model server into a compromised site.",
    remediation="Use the edgeai.podSecurityContext and edgeai.containerSecurityContext helpers; "
                "mount emptyDirs where the process writes.",
    check=check,
    kinds=frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}),
)
