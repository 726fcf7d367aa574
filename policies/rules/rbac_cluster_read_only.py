from policies.engine import Rule

READ = {"get", "list", "watch"}


def check(obj, ctx):
    for i, rule in enumerate(obj.get("rules") or []):
        writes = sorted(set(rule.get("verbs") or []) - READ)
        if writes:
            yield f"rules[{i}] grants cluster-wide {', '.join(writes)}"


RULE = Rule(
    id="EAI-RBAC-003", title="Cluster roles only read", severity="error",
    rationale="A cluster-wide write permission reaches every namespace of the site, Argo CD's included.",
    remediation="Use a namespaced Role for writes; keep ClusterRoles to get/list/watch.",
    check=check, kinds=frozenset({"ClusterRole"}))
