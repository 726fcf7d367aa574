"""charts/kafka on Apache Kafka itself (kafka_2.13 from Maven Central, KRaft): each broker is started
by the chart's rendered start.sh (storage format with the derived cluster id, then kafka.Kafka on
the rendered server.properties), the topics by the rendered topics Job script (kafka-topics.sh /
kafka-configs.sh), and records go through with the clients' settings of the site.

Adapted for 127.0.0.1 (engines.KafkaCluster): the pods' DNS names and ports 9092/9093 become one
loopback port pair per broker, /var/lib/kafka/data and /tmp become temporary directories,
/opt/kafka/bin/* become shims that run the same classes from the Maven Central jars."""

from __future__ import annotations

import time

from tests.realengines import engines
from tests.realengines.engines import PROD_3_NODES

TOPICS = {"sensor-events": (6, 72), "predictions": (3, 72), "predictions-low-confidence": (1, 168),
          "alerts": (1, 168), "aggregates": (3, 168)}


def _declared_topics(objects) -> dict[str, tuple[int, int]]:
    """Topics as the rendered topics script declares them: name -> (partitions, retention hours)."""
    script = engines.config_map(objects, "kafka-topics")["topics.sh"]
    out = {}
    for line in script.splitlines():
        if line.startswith("ensure_topic "):
            _, name, partitions, configs = line.split(" ", 3)
            retention = int(configs.split("retention.ms=")[1].strip('"')) // 3_600_000
            out[name.strip('"')] = (int(partitions), retention)
    return out


def _assert_topics(cluster: engines.KafkaCluster, rf: int, min_isr: int) -> None:
    declared = _declared_topics(cluster.objects)
    assert declared == TOPICS
    for topic in engines.kafka_tool("describe", cluster.bootstrap, *declared):
        partitions, hours = declared[topic["topic"]]
        assert len(topic["partitions"]) == partitions, topic["topic"]
        for p in topic["partitions"]:
            assert len(p["replicas"]) == rf and len(p["isr"]) == rf, (topic["topic"], p)
        assert topic["topicConfigs"] == {"min.insync.replicas": str(min_isr),
                                         "retention.ms": str(hours * 3_600_000)}, topic["topic"]


def test_local_broker_runs_rendered_config_topics_job_and_clients(kafka_local, tmp_path) -> None:
    cluster = kafka_local
    assert cluster.brokers == 1
    assert "topics ready" in cluster.topics_job.stdout
    # The broker formatted its log dir with the chart's derived cluster id.
    meta = (cluster.root / "kafka-0" / "data" / "logs" / "meta.properties").read_text()
    cluster_id = engines.env_values(engines.container(cluster.objects, "StatefulSet", "kafka", "kafka"))
    assert f"cluster.id={cluster_id['KAFKA_CLUSTER_ID']}" in meta and "node.id=0" in meta
    _assert_topics(cluster, rf=1, min_isr=1)
    # The Job is idempotent: a second run (every Argo CD sync runs it) changes nothing and succeeds.
    assert "topics ready" in cluster.run_topics_job().stdout
    _assert_topics(cluster, rf=1, min_isr=1)

    # auto.create.topics.enable=false: a record for an undeclared topic is refused.
    stray = engines.Producer(cluster.bootstrap, "not-declared", tmp_path / "stray.log", max_block_ms="3000")
    stray.send("k", "v")
    stray.flush()
    deadline = time.monotonic() + 20
    while not stray.errors and time.monotonic() < deadline:
        time.sleep(0.1)
    stray.close()
    assert stray.errors and not stray.acked, "an undeclared topic must not be auto-created"

    # Keyed records with acks=all, read back by a consumer group: each key stays in one partition.
    producer = engines.Producer(cluster.bootstrap, "sensor-events", tmp_path / "producer.log", acks="all")
    sent = {}
    for i in range(300):
        sensor = f"pump-{i % 12}"
        sent[producer.send(sensor, f'{{"sensorId": "{sensor}", "value": {i}.0}}')] = sensor
    producer.wait_acked()
    producer.close()
    by_key: dict[str, set[int]] = {}
    for seq, (partition, _, _) in producer.acked.items():
        by_key.setdefault(sent[seq], set()).add(partition)
    assert all(len(parts) == 1 for parts in by_key.values()), by_key
    assert len({p for parts in by_key.values() for p in parts}) > 1, "keys spread over the 6 partitions"
    consumer = engines.Consumer(cluster.bootstrap, "sensor-events", tmp_path / "consumer.log", group="kafka-test")
    try:
        records = consumer.wait_for(lambda r: len([x for x in r if x.value.endswith(".0}")]) >= 300, "300 records")
    finally:
        consumer.close()
    values = sorted(int(float(r.json()["value"])) for r in records if r.key and r.key.startswith("pump-"))
    assert values[-300:] == list(range(300)) or set(range(300)) <= set(values)


def test_three_node_prod_quorum_replicates_and_survives_a_broker_kill(prod_site, tmp_path) -> None:
    engines.require("java", "kafka", "siddhi")
    objects = prod_site["kafka"]
    with engines.processes() as procs:
        cluster = engines.KafkaCluster(objects, tmp_path / "kafka", procs).start()
        assert cluster.brokers == 3, f"{PROD_3_NODES}: one KRaft voter per node"
        cluster.run_topics_job()
        _assert_topics(cluster, rf=3, min_isr=2)

        producer = engines.Producer(cluster.bootstrap, "alerts", tmp_path / "producer.log", acks="all")
        for i in range(100):
            producer.send(f"s-{i}", f'{{"n": {i}}}')
        producer.wait_acked()

        # One broker dies (SIGKILL): min.insync.replicas=2 of RF 3 still accepts acks=all writes.
        cluster.nodes[2].kill()
        for i in range(100, 200):
            producer.send(f"s-{i}", f'{{"n": {i}}}')
        producer.wait_acked(timeout=120)
        (alerts,) = engines.kafka_tool("describe", cluster.bootstrap.split(",")[0], "alerts")
        assert all(2 not in p["isr"] for p in alerts["partitions"]), alerts

        # It comes back on its own volume and catches up into the ISR.
        cluster.restart(2)
        deadline = time.monotonic() + 90
        while True:
            (alerts,) = engines.kafka_tool("describe", cluster.bootstrap, "alerts")
            if all(sorted(p["isr"]) == [0, 1, 2] for p in alerts["partitions"]):
                break
            assert time.monotonic() < deadline, alerts
            time.sleep(1)
        producer.close()

        consumer = engines.Consumer(cluster.bootstrap, "alerts", tmp_path / "consumer.log")
        try:
            records = consumer.wait_for(lambda r: len(r) >= 200, "every acknowledged record")
        finally:
            consumer.close()
        assert sorted(r.json()["n"] for r in records) == list(range(200))
