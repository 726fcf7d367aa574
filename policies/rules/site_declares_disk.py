from policies.engine import Rule


def check(_, ctx):
    nodes = ctx.site.get("nodes") or {}
    if ctx.environment.get("tier") == "development":  # a developer's machine, not a site's disk
        return
    if nodes and not nodes.get("disk"):
        yield None, "the site does not declare nodes.disk, so its disk is not counted in its capacity"


RULE = Rule(
    id="EAI-RES-005", title="Sites declare their disk", severity="warning", scope="site",
    rationale="Kafka's and Redis's volumes, model downloads and logs share one small disk on an edge "
              "node; EAI-RES-003 can count them against it only when the site says how big it is.",
    remediation="Add nodes.disk (Gi per node that pods may use) to the site file.",
    check=check)
