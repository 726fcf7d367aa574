from policies.apis import lifecycle, minor
from policies.engine import Rule


def check(obj, ctx):
    found = lifecycle(obj)
    version = ctx.environment.get("kubernetesVersion")
    if found and found[1] and version and minor(version) >= minor(found[1]):
        yield (f"{obj.get('apiVersion')} {obj.get('kind')} was removed in Kubernetes {found[1]} "
               f"(the site runs {version}); use {found[2]}")


RULE = Rule(
    id="EAI-API-001", title="No APIs removed in the site's Kubernetes version", severity="error",
    rationale="The API server rejects a removed API; the sync fails on every site of that version.",
    remediation="Move to the replacement API named in the message.",
    check=check)
