from policies.engine import Rule

POWERFUL = {"cluster-admin", "admin", "edit"}


def check(obj, ctx):
    role = (obj.get("roleRef") or {}).get("name")
    if role in POWERFUL:
        yield f"binds the built-in role {role}"


RULE = Rule(
    id="EAI-RBAC-002", title="No bindings to cluster-admin, admin or edit", severity="error",
    rationale="The built-in roles grant Secrets and workloads cluster- or namespace-wide; a platform "
              "component never needs them.",
    remediation="Bind a Role that lists only the resources and verbs the component uses.",
    check=check, kinds=frozenset({"RoleBinding", "ClusterRoleBinding"}))
