import re

from policies import k8s
from policies.engine import Rule

# Whole words of the variable name, so MAX_NEW_TOKENS or TOKENIZER_PATH are not taken for secrets.
SECRET_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)(_|$)",
                         re.I)


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
