from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj)):
        if c.get("imagePullPolicy") == "Always":
            yield f"container {c.get('name')} uses imagePullPolicy Always"


RULE = Rule(
    id="EAI-IMG-004", title="No imagePullPolicy Always", severity="warning",
    rationale="With the uplink down, Always turns every pod restart into an image pull that fails; "
              "pinned images never need re-pulling.",
    remediation="Use IfNotPresent with a pinned tag or digest.",
    check=check, kinds=k8s.WORKLOADS)
