from edgeai.catalog import COMPONENTS
from policies import k8s
from policies.engine import Rule

# The stateless entry points whose single replica is a single point of failure of the site.
ENTRY_POINTS = ("gateway",)


def check(obj, ctx):
    nodes = (ctx.site.get("nodes") or {}).get("count", 1)
    if nodes <= 1 or k8s.namespace(obj) not in {COMPONENTS[c].namespace for c in ENTRY_POINTS}:
        return
    replicas = k8s.replicas(obj, ctx.objects)
    if replicas < 2:
        yield f"{replicas} replica on a {nodes}-node site: the node it runs on takes every model call with it"


RULE = Rule(
    id="EAI-REL-007", title="The gateway is highly available on multi-node sites", severity="error",
    rationale="Every inference call of the site passes the gateway; with one replica a node drain or "
              "failure stops them all although two nodes are left. It is stateless: a second replica "
              "costs little.",
    remediation="Run at least 2 replicas on multi-node sites (the composition sets them); "
                "EAI-REL-001 and EAI-REL-004 then require the PodDisruptionBudget and the spread.",
    check=check, kinds=frozenset({"Deployment"}))
