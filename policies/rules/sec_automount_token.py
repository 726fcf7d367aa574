from policies import k8s
from policies.engine import Rule

BINDINGS = ("RoleBinding", "ClusterRoleBinding")


def _bound(sa: str, ns: str, objects) -> bool:
    for b in objects:
        if b.get("kind") in BINDINGS:
            for subject in b.get("subjects") or []:
                if (subject.get("kind") == "ServiceAccount" and subject.get("name") == sa
                        and subject.get("namespace", k8s.namespace(b)) == ns):
                    return True
    return False


def check(obj, ctx):
    spec = k8s.pod_spec(obj) or {}
    sa_name = spec.get("serviceAccountName") or "default"
    ns = k8s.namespace(obj)
    account = next((o for o in ctx.objects if o.get("kind") == "ServiceAccount"
                    and k8s.name(o) == sa_name and k8s.namespace(o) == ns), {})
    automount = spec.get("automountServiceAccountToken", account.get("automountServiceAccountToken", True))
    if automount is not False and not _bound(sa_name, ns, ctx.objects):
        yield (f"mounts a service account token, but service account {sa_name} has no role binding: "
               "the pod does not need the API")


RULE = Rule(
    id="EAI-SEC-006", title="No service-account token where the API is not used", severity="error",
    rationale="An automounted token is a credential lying in every container's filesystem; a pod "
              "without any role binding never needs it.",
    remediation="Set automountServiceAccountToken: false on the ServiceAccount (edgeai.serviceAccount) "
                "or the pod; bind a Role to pods that do call the API.",
    check=check, kinds=k8s.WORKLOADS - {"Pod"})
