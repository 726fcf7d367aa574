from policies import properties
from policies.engine import Rule


def check(_, ctx):
    for cm, text in properties.config_maps_with(ctx.objects, "server.properties"):
        props = properties.parse(text)
        for broker_set in properties.mounting_workloads(cm, ctx.objects):
            brokers = int((broker_set.get("spec") or {}).get("replicas", 1))
            rf = int(props.get("default.replication.factor", 1))
            if rf > brokers:
                yield cm, f"default.replication.factor {rf} exceeds the {brokers} broker(s)"


RULE = Rule(
    id="EAI-KFK-001", title="Kafka replication factor within the broker count", severity="error",
    scope="site",
    rationale="A topic cannot have more replicas than brokers: topic creation fails and producers of "
              "the ingest topic get errors.",
    remediation="Leave replicationFactor unset (derived from brokers) or lower it.",
    check=check)
