from policies import properties
from policies.engine import Rule

FOLLOW_RF = ("offsets.topic.replication.factor", "transaction.state.log.replication.factor")
FOLLOW_ISR = ("transaction.state.log.min.isr",)


def check(_, ctx):
    for cm, text in properties.config_maps_with(ctx.objects, "server.properties"):
        props = properties.parse(text)
        rf, isr = props.get("default.replication.factor", "1"), props.get("min.insync.replicas", "1")
        for key in FOLLOW_RF:
            if props.get(key, "3") != rf:
                yield cm, f"{key} is {props.get(key, '3 (Kafka default)')}, not the replication factor {rf}"
        for key in FOLLOW_ISR:
            if props.get(key, "2") != isr:
                yield cm, f"{key} is {props.get(key, '2 (Kafka default)')}, not min.insync.replicas {isr}"


RULE = Rule(
    id="EAI-KFK-003", title="Kafka internal topics follow the broker count", severity="error", scope="site",
    rationale="Kafka's defaults (3 replicas) make consumer offsets and transactions unusable on a "
              "one-broker site; on three brokers a lower factor loses offsets with a node.",
    remediation="Let the chart derive the internal topic factors from brokers.",
    check=check)
