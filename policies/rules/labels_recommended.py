from policies import k8s
from policies.engine import Rule

RECOMMENDED = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by",
               "app.kubernetes.io/part-of")


def check(obj, ctx):
    labels = k8s.labels(obj)
    missing = [key for key in RECOMMENDED if not labels.get(key)]
    if missing:
        yield f"missing label(s) {', '.join(missing)}"


RULE = Rule(
    id="EAI-LBL-002", title="Workloads and Services carry the app.kubernetes.io labels", severity="warning",
    rationale="Dashboards, Argo CD and kubectl group objects by the recommended labels.",
    remediation="Render labels with edgeai.labels.",
    check=check, kinds=k8s.WORKLOADS | {"Service"})
