"""charts/kafka's external listener on Apache Kafka itself: the local site's broker (its rendered start.sh,
with the Secret kafka-external-tls made by the code `edgeai up` uses, edgeai.kafka_external) and the topics
Job's rendered script creating the site file's SCRAM users and quotas (Secret kafka-external-users).

A device on the external listener (SASL_SSL, SCRAM-SHA-512, the cluster CA as trust store) writes
`sensor-events`; a wrong password, an undeclared user, no SASL and no TLS are refused; the throttled
user's producer_byte_rate delays it (Kafka's produce-throttle-time, measured by the real
kafka-producer-perf-test and by the acknowledgements' pace) and loses nothing it was acknowledged for;
a user no longer declared is revoked by the next Job run."""

from __future__ import annotations

import json
import re
import subprocess
import time

from tests.realengines import engines

EVENT = '{{"sensorId": "{s}", "temperature": 21.5, "vibration": 0.2, "pressure": 1.01, "seq": {i}}}'


def _refused(bootstrap: str, log, **props: str) -> list[str]:
    """Errors of a producer with these client properties; asserts nothing was acknowledged."""
    p = engines.Producer(bootstrap, "sensor-events", log, max_block_ms="8000", delivery_timeout_ms="10000",
                         request_timeout_ms="5000", **props)
    for i in range(3):
        p.send("refused", EVENT.format(s="refused", i=i))
    p.flush()
    deadline = time.monotonic() + 40
    while len(p.errors) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    p.close()
    assert not p.acked, f"{props.get('security.protocol')}: records were acknowledged"
    assert len(p.errors) == 3, p.errors
    return p.errors


def _configs(cluster: engines.KafkaCluster, *args: str) -> str:
    bin_dir = engines.kafka_bin(cluster.root)
    proc = subprocess.run([str(bin_dir / "kafka-configs.sh"), "--bootstrap-server", cluster.bootstrap, *args],
                          env={**cluster.env(), "KAFKA_HEAP_OPTS": "-Xmx256m", "KAFKA_LOG4J_OPTS": ""},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_devices_produce_over_sasl_ssl_refused_without_credentials(kafka_local, tmp_path) -> None:
    cluster = kafka_local
    assert cluster.external, "the local site turns the external listener on (environments/local/sites/local.yaml)"
    job = cluster.topics_job.stdout
    assert "external user device-sim ready (quota producer_byte_rate=1048576,request_percentage=50)" in job
    assert "external user device-throttled ready (quota producer_byte_rate=16384,request_percentage=25)" in job
    assert "external users ready" in job
    for password in cluster.external_users.values():       # the job never prints a password
        assert password not in job and password not in cluster.topics_job.stderr
    # The rendered manifests carry no password either: they come from the Secret at run time.
    assert not any(pw in json.dumps(cluster.objects) for pw in cluster.external_users.values())

    # The quotas the site file declares are what the broker enforces.
    described = _configs(cluster, "--describe", "--entity-type", "users")
    assert re.search(r"user-principal 'device-throttled' are .*producer_byte_rate=16384", described), described
    assert re.search(r"SCRAM credential configs for user-principal 'device-sim' are SCRAM-SHA-512", described)

    # A device with its SCRAM user over TLS (the cluster CA as trust store) writes sensor-events.
    device = engines.Producer(cluster.external_bootstrap, "sensor-events", tmp_path / "device.log", acks="all",
                              **cluster.external_client("device-sim"))
    for i in range(100):
        device.send("ext-pump-1", EVENT.format(s="ext-pump-1", i=i))
    device.wait_acked(timeout=90)
    device.close()
    consumer = engines.Consumer(cluster.bootstrap, "sensor-events", tmp_path / "consumer.log")
    try:
        records = consumer.wait_for(lambda r: len([x for x in r if x.key == "ext-pump-1"]) >= 100, "100 device events")
    finally:
        consumer.close()
    assert sorted(r.json()["seq"] for r in records if r.key == "ext-pump-1") == list(range(100))

    # Refused: a wrong password, a user the site file does not declare, no SASL, no TLS.
    errors = _refused(cluster.external_bootstrap, tmp_path / "wrong.log",
                      **cluster.external_client("device-sim", password="not-the-password-0123456789"))
    assert any("Authentication failed" in e or "SaslAuthenticationException" in e for e in errors), errors
    errors = _refused(cluster.external_bootstrap, tmp_path / "nobody.log",
                      **{**cluster.external_client("device-sim"),
                         "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                             'username="nobody" password="whatever-0123456789";'})
    assert any("Authentication failed" in e or "SaslAuthenticationException" in e for e in errors), errors
    tls_only = {k: v for k, v in cluster.external_client("device-sim").items() if not k.startswith("sasl")}
    _refused(cluster.external_bootstrap, tmp_path / "tls-only.log", **{**tls_only, "security.protocol": "SSL"})
    _refused(cluster.external_bootstrap, tmp_path / "plaintext.log")     # PLAINTEXT against the TLS port
    # A certificate the device does not trust (no CA given: the JVM's default trust store) is refused too.
    untrusted = {k: v for k, v in cluster.external_client("device-sim").items() if not k.startswith("ssl.")}
    errors = _refused(cluster.external_bootstrap, tmp_path / "untrusted.log", **untrusted)
    assert any("SSL" in e or "certificat" in e.lower() for e in errors), errors


def _perf_test(cluster: engines.KafkaCluster, user: str, records: int, size: int, tmp_path) -> dict[str, float]:
    """Kafka's own kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance) as `user`;
    returns its summary and the producer's throttle metrics."""
    config = tmp_path / f"{user}.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in cluster.external_client(user).items()))
    started = time.monotonic()
    proc = subprocess.run(
        ["java", "-Xmx256m", "-cp", f"{engines.kafka_libs()}/*", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", "sensor-events", "--num-records", str(records), "--record-size", str(size),
         "--throughput", "-1", "--producer.config", str(config), "--producer-props",
         f"bootstrap.servers={cluster.external_bootstrap}", "acks=all", "--print-metrics"],
        capture_output=True, text=True, timeout=300, check=False)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The last summary line is the whole run's (the tool prints one every 5 s while it runs).
    summaries = list(re.finditer(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", proc.stdout))
    assert summaries, proc.stdout[-2000:]
    summary = summaries[-1]
    metric = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"producer-metrics:(produce-throttle-time-(?:avg|max)):\{client-id=[^}]*\}\s*:\s*([\d.]+)", proc.stdout)}
    return {"records": int(summary.group(1)), "bytes_per_s": float(summary.group(3)) * 1024 * 1024,
            "elapsed": elapsed, **metric}


def test_quota_delays_an_over_quota_producer_and_loses_nothing(kafka_local, tmp_path) -> None:
    cluster = kafka_local
    # device-throttled: producer_byte_rate=16384 (16 KiB/s); 400 records of 1 KiB are ~25 s of its quota.
    throttled = _perf_test(cluster, "device-throttled", 400, 1024, tmp_path)
    free = _perf_test(cluster, "device-sim", 400, 1024, tmp_path)      # 1 MiB/s: never reached here
    print(f"\nkafka external quota: device-throttled {throttled}\n                      device-sim {free}")
    assert throttled["records"] == 400 and free["records"] == 400
    assert throttled["produce-throttle-time-max"] > 0, throttled      # the broker delayed it ...
    assert free["produce-throttle-time-max"] == 0, free               # ... and not the other user
    assert throttled["bytes_per_s"] < 3 * 16384, throttled            # held near its quota (bursts aside)
    assert free["bytes_per_s"] > 3 * throttled["bytes_per_s"], (free, throttled)

    # Delayed, never dropped: every record the throttled device sent is acknowledged and readable.
    device = engines.Producer(cluster.external_bootstrap, "sensor-events", tmp_path / "throttled.log", acks="all",
                              **cluster.external_client("device-throttled"))
    padding = "x" * 900
    started = time.monotonic()
    for i in range(150):
        device.send("ext-throttled", EVENT.format(s="ext-throttled", i=i)[:-1] + f', "pad": "{padding}"}}')
    device.wait_acked(timeout=180)
    took = time.monotonic() - started
    device.close()
    rate = 150 * 1000 / took
    print(f"kafka external quota: 150 acknowledged records of ~1 KB in {took:.1f} s ({rate:.0f} B/s)")
    consumer = engines.Consumer(cluster.bootstrap, "sensor-events", tmp_path / "throttled-consumer.log")
    try:
        records = consumer.wait_for(lambda r: len([x for x in r if x.key == "ext-throttled"]) >= 150, "150 events")
    finally:
        consumer.close()
    assert sorted(r.json()["seq"] for r in records if r.key == "ext-throttled") == list(range(150))


def test_a_user_no_longer_declared_is_revoked_by_the_next_job_run(kafka_local, tmp_path) -> None:
    cluster = kafka_local
    stray = tmp_path / "stray.properties"
    stray.write_text("SCRAM-SHA-512=iterations=8192,password=stray-password-0123456789\n")
    _configs(cluster, "--alter", "--entity-type", "users", "--entity-name", "stray-device",
             "--add-config-file", str(stray))
    _configs(cluster, "--alter", "--entity-type", "users", "--entity-name", "stray-device",
             "--add-config", "producer_byte_rate=2048")
    assert "'stray-device'" in _configs(cluster, "--describe", "--entity-type", "users")
    job = cluster.run_topics_job().stdout
    assert "external user stray-device removed (no longer declared)" in job
    assert "'stray-device'" not in _configs(cluster, "--describe", "--entity-type", "users")
    assert "removed" not in job.replace("external user stray-device removed", "")   # declared users stay
    props = {**cluster.external_client("device-sim"),
             "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                 'username="stray-device" password="stray-password-0123456789";'}
    _refused(cluster.external_bootstrap, tmp_path / "revoked.log", **props)
