from edgeai import capacity
from edgeai.composition import settings
from policies.engine import Rule


def check(_, ctx):
    nodes = ctx.site.get("nodes") or {}
    if not nodes:
        return
    count = nodes["count"]
    cpu = nodes["cpu"] * count
    memory_gi = int(str(nodes["memory"]).removesuffix("Gi")) * count
    usable = 1 - settings()["capacityHeadroomPercent"] / 100
    demand = capacity.site_demand(list(ctx.objects), count)
    if demand.cpu > cpu * usable:
        yield None, (f"workloads request {demand.cpu:.2f} CPU; the site has {cpu} "
                     f"({cpu * usable:.1f} usable with headroom)")
    if demand.memory / 2**30 > memory_gi * usable:
        yield None, (f"workloads request {demand.memory / 2**30:.1f}Gi memory; the site has "
                     f"{memory_gi}Gi ({memory_gi * usable:.1f}Gi usable with headroom)")
    if nodes.get("disk"):
        disk_gi = int(str(nodes["disk"]).removesuffix("Gi")) * count
        if demand.disk / 2**30 > disk_gi * usable:
            yield None, (f"workloads request {demand.disk / 2**30:.1f}Gi of disk (ephemeral storage and "
                         f"volumes); the site has {disk_gi}Gi ({disk_gi * usable:.1f}Gi usable with headroom)")


RULE = Rule(
    id="EAI-RES-003", title="The site's requests fit its capacity with headroom", severity="error",
    scope="site",
    rationale="Pods that do not fit stay Pending; on a one-node site there is nowhere else to go, "
              "and the kubelet, Argo CD and upgrades (surge pods) need room too.",
    remediation="Lower requests or replicas in components.<name>, place fewer models on the site, or "
                "declare the site's real capacity (nodes.cpu, nodes.memory, nodes.disk).",
    check=check)
