from policies.engine import Rule


def check(obj, ctx):
    for i, rule in enumerate(obj.get("rules") or []):
        if "secrets" in (rule.get("resources") or []):
            yield f"rules[{i}] grants access to Secrets"


RULE = Rule(
    id="EAI-RBAC-004", title="No component reads Secrets through the API", severity="warning",
    rationale="Mounted Secrets are scoped to a pod; API access to Secrets exposes every Secret of "
              "the namespace (or the site).",
    remediation="Mount the Secret into the pod instead of reading it through the API.",
    check=check, kinds=frozenset({"Role", "ClusterRole"}))
