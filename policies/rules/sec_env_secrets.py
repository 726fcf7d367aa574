import re

from policies import k8s
from policies.engine import Rule

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj)):
        for env in c.get("env") or []:
            name, value = env.get("name", ""), env.get("value")
            if SECRET_NAME.search(name) and isinstance(value, str) and value and not value.startswith("/"):
                yield f"env {name} of container {c.get('name')} holds a literal secret"


RULE = Rule(
    id="EAI-SEC-007", title="No secrets in environment variables", severity="error",
    rationale="A literal in a pod spec is stored in Git, in the rendered manifests and in etcd in "
              "clear, and shows in `kubectl describe`.",
    remediation="Use valueFrom.secretKeyRef (or a *_FILE variable pointing at a mounted Secret).",
    check=check, kinds=k8s.WORKLOADS)
