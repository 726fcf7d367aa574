from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    ns = k8s.namespace(obj)
    present = {(o.get("kind"), k8s.namespace(o), k8s.name(o)): k8s.data_keys(o) for o in ctx.objects}
    present.update(ctx.provided)
    for kind, name, key, where in k8s.pod_refs(k8s.pod_spec(obj)):
        keys = present.get((kind, ns, name))
        if keys is None:
            yield (f"{where} needs {kind} {name!r}, which neither the site's releases nor its stack create "
                   f"in namespace {ns}")
        elif key is not None and key not in keys:
            yield f"{where} needs key {key!r} of {kind} {name!r}, which has only {', '.join(sorted(keys)) or 'none'}"


RULE = Rule(
    id="EAI-REF-001", title="Objects a pod needs exist in its namespace, with the keys it reads", severity="error",
    rationale="A pod only uses Secrets, ConfigMaps, claims and service accounts of its own namespace. A missing "
              "Secret, ConfigMap or key keeps it in CreateContainerConfigError or ContainerCreating, a missing "
              "claim in Pending, a missing service account keeps it from being created at all; Argo CD shows "
              "the sync progressing until the rollout times out, at every site of the environment at once.",
    remediation="Create it in the chart, or add it (with its keys) to catalog.SITE_SECRETS for the component so "
                "the site stack creates it in that namespace; mark a truly optional reference `optional: true`.",
    check=check, kinds=k8s.WORKLOADS)
