from edgeai.catalog import LABELS
from policies import k8s
from policies.engine import Rule

REQUIRED = ("owner", "environment", "site")


def check(obj, ctx):
    labels = k8s.labels(obj)
    missing = [LABELS[key] for key in REQUIRED if not labels.get(LABELS[key])]
    if missing:
        yield f"missing label(s) {', '.join(missing)}"


RULE = Rule(
    id="EAI-LBL-001", title="Objects carry owner, environment and site labels", severity="error",
    rationale="With thousands of sites, labels are how alerts, costs and incidents find their owner.",
    remediation="Render labels with edgeai.labels; the composition passes global.owner/environment/site.",
    check=check)
