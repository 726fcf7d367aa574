from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj)):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            yield f"container {c.get('name')} has a writable root filesystem"


RULE = Rule(
    id="EAI-SEC-003", title="Root filesystems are read-only", severity="error",
    rationale="A writable image filesystem lets an intruder persist tools and lets a process fill the "
              "node's disk unnoticed; edge nodes have small disks and nobody on site.",
    remediation="Set readOnlyRootFilesystem: true (edgeai.containerSecurityContext) and mount an "
                "emptyDir where the process writes.",
    check=check, kinds=k8s.WORKLOADS)
