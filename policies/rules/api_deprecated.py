from policies.apis import lifecycle, minor
from policies.engine import Rule


def check(obj, ctx):
    found = lifecycle(obj)
    version = ctx.environment.get("kubernetesVersion")
    if found and version and minor(version) >= minor(found[0]) and not (found[1] and minor(version) >= minor(found[1])):
        yield f"{obj.get('apiVersion')} {obj.get('kind')} is deprecated since Kubernetes {found[0]}; use {found[2]}"


RULE = Rule(
    id="EAI-API-002", title="No APIs deprecated in the site's Kubernetes version", severity="warning",
    rationale="A deprecated API disappears in a later release; fleet upgrades stall on it.",
    remediation="Move to the replacement API named in the message.",
    check=check)
