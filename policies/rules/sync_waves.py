from edgeai.catalog import COMPONENTS
from policies.engine import Rule


def check(_, ctx):
    waves = {r["component"]: r["syncWave"] for r in ctx.releases}
    for r in ctx.releases:
        for need in COMPONENTS[r["component"]].needs if r["component"] in COMPONENTS else ():
            if need in waves and waves[need] >= r["syncWave"]:
                yield None, (f"release {r['name']} (wave {r['syncWave']}) needs {need} "
                             f"(wave {waves[need]}), which must sync first")


RULE = Rule(
    id="EAI-GIT-002", title="Sync waves follow dependencies", severity="error", scope="site",
    rationale="A first sync in the wrong order starts Siddhi before Kafka exists: crash loops that "
              "only time heals, on every new site.",
    remediation="Declare the dependency in edgeai.catalog (needs=...); waves are derived from it.",
    check=check)
