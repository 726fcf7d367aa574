from policies import properties
from policies.engine import Rule


def check(_, ctx):
    for cm, text in properties.config_maps_with(ctx.objects, "server.properties"):
        props = properties.parse(text)
        rf = int(props.get("default.replication.factor", 1))
        isr = int(props.get("min.insync.replicas", 1))
        if isr > rf:
            yield cm, f"min.insync.replicas {isr} exceeds the replication factor {rf}: every write fails"
        elif rf > 1 and isr >= rf:
            yield cm, (f"min.insync.replicas {isr} equals the replication factor {rf}: one broker down "
                       "stops every acks=all write")


RULE = Rule(
    id="EAI-KFK-002", title="Kafka min.insync.replicas below the replication factor on multi-node sites",
    severity="error", scope="site",
    rationale="With min.insync equal to the replication factor, restarting one broker (a node update) "
              "stops ingest at the site.",
    remediation="Use replication factor - 1 (the chart's derivation: 3 brokers → 3/2).",
    check=check)
