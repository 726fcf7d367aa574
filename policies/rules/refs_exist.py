from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    ns = k8s.namespace(obj)
    present = {(o.get("kind"), k8s.namespace(o), k8s.name(o)) for o in ctx.objects} | ctx.provided
    for kind, name, where in k8s.config_refs(k8s.pod_spec(obj)):
        if (kind, ns, name) not in present:
            yield (f"{where} needs {kind} {name!r}, which neither the site's releases nor its stack create "
                   f"in namespace {ns}")


RULE = Rule(
    id="EAI-REF-001", title="Secrets and ConfigMaps a pod needs exist in its namespace", severity="error",
    rationale="A pod only reads Secrets and ConfigMaps of its own namespace. A missing one keeps it in "
              "CreateContainerConfigError or ContainerCreating, and Argo CD reports the sync as healthy "
              "progress until the rollout times out, at every site of the environment at once.",
    remediation="Create it in the chart, or add it to catalog.SITE_SECRETS for the component so the site "
                "stack creates it in that namespace; mark a truly optional reference `optional: true`.",
    check=check, kinds=k8s.WORKLOADS)
