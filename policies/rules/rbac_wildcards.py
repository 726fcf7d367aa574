from policies.engine import Rule


def check(obj, ctx):
    for i, rule in enumerate(obj.get("rules") or []):
        for field in ("apiGroups", "resources", "verbs", "nonResourceURLs"):
            if "*" in (rule.get(field) or []):
                yield f"rules[{i}].{field} contains '*'"


RULE = Rule(
    id="EAI-RBAC-001", title="RBAC rules name what they grant", severity="error",
    rationale="A wildcard grants tomorrow's resources and verbs too; least privilege must be spelt out.",
    remediation="List the apiGroups, resources and verbs the component uses.",
    check=check, kinds=frozenset({"Role", "ClusterRole"}))
