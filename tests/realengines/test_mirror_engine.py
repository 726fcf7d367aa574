"""A site's MirrorMaker 2 across a flaky uplink, on Apache Kafka itself (issue 13, "what flows up").

- The cloud: the aggregation Kafka as the staging training stack declares it (stacks/training
  aggregation_listener: SASL_SSL, one SCRAM user per site, created by the chart's topics Job), one broker
  instead of three (two cores), its certificate from a private CA.
- The site: the local site's broker (the session's), and MirrorMaker 2 as the staging site stg-eu-1's
  kafka release renders it (its mirror-maker.sh and properties, the CA from environment cloud.kafkaCA),
  logging in as the site.
- The uplink: a TCP relay the cloud broker advertises, so every byte MirrorMaker sends to the cloud
  crosses it; cut() drops every connection and refuses new ones, restore() accepts again.

Records the site acknowledged while the link was down reach the cloud after it returns, none lost.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from edgeai import catalog, fleet, render
from stacks.training import training
from tests.realengines import engines
from tests.realengines.engines import (
    Consumer,
    KafkaCluster,
    Proc,
    Producer,
    adapt,
    config_map,
    container,
    env_values,
    free_port,
)

ENV, SITE = "staging", "stg-eu-1"
TOPIC = "predictions"


class Uplink:
    """A TCP relay standing for the site's WAN link to the cloud broker."""

    def __init__(self) -> None:
        self.port = free_port()
        self.upstream = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen()
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener:
                self._listener.close()
                self._listener = None
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                down, _ = listener.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                down.close()
                continue
            up.settimeout(None)   # the timeout was for connecting: Kafka's connections idle for long stretches
            with self._lock:
                if self._listener is not listener:   # cut meanwhile
                    down.close()
                    up.close()
                    return
                self._open |= {down, up}
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _staging() -> fleet.Environment:
    (env,) = fleet.load_fleet([ENV])
    return env


@pytest.fixture(scope="module")
def uplink() -> Uplink:
    return Uplink()


@pytest.fixture(scope="module")
def cloud_kafka(uplink, session_procs, tmp_path_factory) -> KafkaCluster:
    env = _staging()
    [release] = [r for r in training.chart_releases(env, training.plan(env)) if r.name == "kafka"]
    assert release.values["external"]["users"] == [{"name": s} for s in sorted(env.sites)]
    release.values["brokers"] = 1                       # two cores: one broker, not the three of staging
    release.values["global"]["nodeCount"] = 1
    release.values["external"]["advertisedHosts"] = release.values["external"]["advertisedHosts"][:1]
    objects = render.render_release(env, release).objects
    cluster = KafkaCluster(objects, tmp_path_factory.mktemp("kafka-cloud"), session_procs,
                           advertised_ports=[uplink.port])
    cluster.start()
    uplink.upstream = cluster.external_ports[0]
    uplink.restore()
    job = cluster.run_topics_job()
    assert all(f"external user {s}" in job.stdout or s in cluster.external_users for s in env.sites)
    return cluster


@pytest.fixture(scope="module")
def mirror_maker(kafka_local, cloud_kafka, uplink, session_procs, tmp_path_factory) -> Proc:
    env = _staging()
    env.cloud["kafkaCA"] = Path(cloud_kafka.ca_file).read_text()   # the private CA the cloud's cert chains to
    [release] = [r for r in render.render_site(env, env.sites[SITE]) if r.release.component == "kafka"]
    objects = release.objects
    data = config_map(objects, "kafka-mirror-maker")
    root = tmp_path_factory.mktemp("mirror-maker")
    (root / "target-ca.crt").write_text(data["target-ca.crt"])
    rf = "replication.factor=3"
    props = adapt(data["mirror-maker.properties"], [
        (f"{SITE}.bootstrap.servers=kafka:9092", f"{SITE}.bootstrap.servers={kafka_local.bootstrap}"),
        (f"cloud.bootstrap.servers={env.cloud['kafkaBootstrap']}", f"cloud.bootstrap.servers=127.0.0.1:{uplink.port}"),
        ("/etc/kafka/edgeai/target-ca.crt", str(root / "target-ca.crt")),
        ("listeners=http://:8083", f"listeners=http://127.0.0.1:{free_port()}"),
        (f"\n{rf}", "\nreplication.factor=1"),   # the cloud here has one broker, staging's three
        *((f"{k}.{rf}", f"{k}.replication.factor=1") for k in ("checkpoints.topic", "heartbeats.topic",
                                                             "offset-syncs.topic", "config.storage",
                                                             "offset.storage", "status.storage")),
    ], "mirror-maker.properties")
    (root / "mirror-maker.properties").write_text(props)
    script = adapt(data["mirror-maker.sh"], {
        "/etc/kafka/edgeai/mirror-maker.properties": str(root / "mirror-maker.properties"),
        "/tmp/mm2": str(root / "mm2"), "/opt/kafka/bin/": f"{engines.kafka_bin(root)}/"}, "mirror-maker.sh")
    (root / "mirror-maker.sh").write_text(script)
    rendered = env_values(container(objects, "Deployment", "kafka-mirror-maker", "mirror-maker"))
    assert rendered["TARGET_USERNAME"] == {"secretKeyRef": {"name": "kafka-mirror-target", "key": "username"}}
    (root / "log4j2.properties").write_text(data["log4j2.properties"])
    proc_env = {**kafka_local.env(), "KAFKA_HEAP_OPTS": rendered["KAFKA_HEAP_OPTS"], "LOG_DIR": str(root / "logs"),
                "KAFKA_LOG4J_OPTS": adapt(rendered["KAFKA_LOG4J_OPTS"], {
                    "/etc/kafka/edgeai/log4j2.properties": str(root / "log4j2.properties")}),
                "TARGET_LOGIN_MODULE": rendered["TARGET_LOGIN_MODULE"],
                "TARGET_USERNAME": SITE, "TARGET_PASSWORD": cloud_kafka.external_users[SITE]}
    return session_procs.start(Proc("mirror-maker", ["/bin/bash", str(root / "mirror-maker.sh")],
                                    root / "mirror-maker.log", proc_env))


def test_records_acknowledged_while_the_uplink_is_down_reach_the_cloud_after_it_returns(
        kafka_local, cloud_kafka, mirror_maker, uplink, tmp_path) -> None:
    remote = f"{SITE}.{TOPIC}"
    assert TOPIC in catalog.TOPICS
    run = uuid.uuid4().hex   # the session's other tests write to the site's topic too
    producer = Producer(kafka_local.bootstrap, TOPIC, tmp_path / "producer.log", acks="all")
    cloud: Consumer | None = None

    def send(first: int, n: int) -> None:
        for i in range(first, first + n):
            producer.send(f"sensor-{i % 7}", json.dumps({"run": run, "seq": i, "model": "sensor-anomaly"}))
        producer.wait_acked(60)

    def mine() -> list[int]:
        assert cloud is not None
        return [v["seq"] for v in (json.loads(r.value) for r in cloud.records) if v.get("run") == run]

    def seqs() -> set[int]:
        return set(mine())

    try:
        send(0, 200)
        started = time.monotonic()
        wait_for_topic(cloud_kafka.bootstrap, remote, 240)   # MirrorMaker creates it on the cloud
        cloud = Consumer(cloud_kafka.bootstrap, remote, tmp_path / "cloud.log")
        cloud.wait_for(lambda _: seqs() >= set(range(200)), "the first 200 records in the cloud", 240)
        print(f"\n[mirror] link up: 200 records site -> cloud in {time.monotonic() - started:.1f} s "
              "(includes MirrorMaker's start and topic creation)")
        uplink.cut()
        cut_at = time.monotonic()
        send(200, 300)                                   # acknowledged by the site while the cloud is unreachable
        time.sleep(20)
        assert seqs() <= set(range(200)), "records crossed a cut link: the relay is not the only way up"
        assert mirror_maker.alive(), f"MirrorMaker died with the link down:\n{mirror_maker.output()}"
        uplink.restore()
        restored = time.monotonic()
        cloud.wait_for(lambda _: seqs() >= set(range(500)), "every acknowledged record in the cloud", 300)
        caught_up = time.monotonic() - restored
        duplicates = len(mine()) - len(seqs())   # at-least-once: a retried batch may land twice
        print(f"[mirror] link down {restored - cut_at:.0f} s with 300 records acknowledged at the site; "
              f"all 500 in {remote} {caught_up:.1f} s after it returned; {duplicates} duplicate(s)")
    finally:
        producer.close()
        if cloud:
            cloud.close()


def wait_for_topic(bootstrap: str, topic: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            engines.kafka_tool("describe", bootstrap, topic)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
