"""Kafka-speaking devices on the `local` site on kind (issue 11 item 1): producers on the host reach the
brokers' external listener at 127.0.0.1:30093 (kind maps the node port there) over SASL_SSL, with a
SCRAM-SHA-512 user the site file declares (environments/local/sites/local.yaml), the cluster's CA as
trust store and the password `edgeai up` made (<state>/kafka-external/users.json).

The clients are Kafka's own (kafka-clients 4.1.1 of the engines cache: the tests' KafkaTool and
kafka-producer-perf-test), run on the host as a device would. Expected: the device's events land in
`sensor-events` and the CEP's per-event alert for the spiking sensor reaches the line-control
webhook; no SASL, no TLS or a wrong password are refused; the throttled user (producer_byte_rate
16 KiB/s) is delayed by the broker (its throttle time > 0, its rate near the quota) and every record it
was acknowledged for is in the topic."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid

import pytest

from edgeai import gateway_tls, kafka_external
from tests.e2e import realtime_site as rt
from tests.e2e.kindsite import HOST, eventually
from tests.realengines import engines

NODE_PORT = 30093                 # environments/local/sites/local.yaml
BOOTSTRAP = f"{HOST}:{NODE_PORT}"
QUOTA = 16384                     # device-throttled's producer_byte_rate


@pytest.fixture(scope="module")
def device(site):
    engines.require("java", "kafka", "siddhi")     # the host's Kafka clients (scripts/install-engines.sh)
    users = json.loads(kafka_external.users_file(site.info.dir).read_text())
    ca = str(gateway_tls.ca_file(site.info.dir))

    def client(user: str, password: str | None = None) -> dict[str, str]:
        pw = users[user] if password is None else password
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                    f'username="{user}" password="{pw}";',
                "ssl.truststore.type": "PEM", "ssl.truststore.location": ca}
    # The topics Job (a PostSync hook) creates the users after the broker is up: wait until one logs in.
    def logged_in():
        p = engines.Producer(BOOTSTRAP, "sensor-events", site.info.dir / "device-probe.log", acks="all",
                             max_block_ms="10000", delivery_timeout_ms="15000", request_timeout_ms="8000",
                             **client("device-sim"))
        p.send("probe", json.dumps({"sensorId": "probe", "sensorType": "temperature", "value": 20.0,
                                    "timestamp": int(time.time() * 1000)}))
        p.flush()
        deadline = time.monotonic() + 30
        while not (p.acked or p.errors) and time.monotonic() < deadline:
            time.sleep(0.2)
        p.close()
        return bool(p.acked)
    eventually("device-sim logs in on the external listener", logged_in, 300, 5)
    return client


def _event(sensor: str, value: float, seq: int, pad: str = "") -> str:
    event = {"sensorId": sensor, "sensorType": "temperature", "value": value, "timestamp": int(time.time() * 1000),
             "seq": seq}
    if pad:
        event["pad"] = pad
    return json.dumps(event)


def _refused(tmp_path, name: str, **props: str) -> list[str]:
    p = engines.Producer(BOOTSTRAP, "sensor-events", tmp_path / f"{name}.log", max_block_ms="8000",
                         delivery_timeout_ms="10000", request_timeout_ms="5000", **props)
    for i in range(3):
        p.send("refused", _event("refused", 20.0, i))
    p.flush()
    deadline = time.monotonic() + 40
    while len(p.errors) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    p.close()
    assert not p.acked, f"{name}: records were acknowledged"
    assert len(p.errors) == 3, (name, p.errors)
    return p.errors


def test_a_device_on_the_host_produces_over_sasl_ssl_and_its_alert_arrives(site, device, receiver, tmp_path):
    run = uuid.uuid4().hex[:6]
    spike, quiet = f"kd-spike-{run}", f"kd-quiet-{run}"
    producer = engines.Producer(BOOTSTRAP, "sensor-events", tmp_path / "device.log", acks="all",
                                **device("device-sim"))
    for i in range(5):
        producer.send(quiet, _event(quiet, 20.0 + i % 3, i))
        producer.send(spike, _event(spike, 180.0, i))       # over the per-event `overheat` threshold
    producer.wait_acked(timeout=120)
    producer.close()

    def overheat():
        got = [d for d in rt.deliveries(site) if d["alert"]["labels"].get("sensorId") in {spike, quiet}]
        return got if any(d["path"] == "/line-control" and d["alert"]["labels"]["sensorId"] == spike
                          and d["alert"]["labels"]["alertname"] == "overheat" for d in got) else None

    got = eventually("the spiking device's overheat alert at the line-control webhook", overheat, 180, 3)
    assert not [d for d in got if d["alert"]["labels"]["sensorId"] == quiet], "an alert for the quiet device"
    records = site.consume("sensor-events", 25)
    assert sorted(json.loads(v)["seq"] for k, v in records if k == spike) == list(range(5))
    assert sorted(json.loads(v)["seq"] for k, v in records if k == quiet) == list(range(5))

    # Refused: PLAINTEXT (no TLS, no SASL), TLS without SASL, a wrong password, a user not declared.
    _refused(tmp_path, "plaintext")
    tls_only = {k: v for k, v in device("device-sim").items() if not k.startswith("sasl")}
    _refused(tmp_path, "tls-only", **{**tls_only, "security.protocol": "SSL"})
    errors = _refused(tmp_path, "wrong-password", **device("device-sim", password="not-the-password-0123456789"))
    assert any("Authentication failed" in e or "SaslAuthentication" in e for e in errors), errors
    errors = _refused(tmp_path, "unknown-user", **{**device("device-sim"), "sasl.jaas.config":
                      "org.apache.kafka.common.security.scram.ScramLoginModule required "
                      'username="nobody" password="whatever-0123456789";'})
    assert any("Authentication failed" in e or "SaslAuthentication" in e for e in errors), errors


def test_an_over_quota_device_is_throttled_and_loses_nothing(site, device, tmp_path):
    # Kafka's own perf tool as the throttled user: the broker's throttle time is in its metrics.
    config = tmp_path / "throttled.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in device("device-throttled").items()))
    proc = subprocess.run(
        ["java", "-Xmx256m", "-cp", f"{engines.kafka_libs()}/*", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", "sensor-events", "--num-records", "300", "--record-size", "1024", "--throughput", "-1",
         "--producer.config", str(config), "--producer-props", f"bootstrap.servers={BOOTSTRAP}", "acks=all",
         "--print-metrics"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summaries = re.findall(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", proc.stdout)
    throttle = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"producer-metrics:produce-throttle-time-(avg|max):\{client-id=[^}]*\}\s*:\s*([\d.]+)", proc.stdout)}
    sent, _, mb_per_s = summaries[-1]
    rate = float(mb_per_s) * 1024 * 1024
    print(f"\ndevice-throttled (producer_byte_rate {QUOTA} B/s): {sent} records of 1 KiB at {rate:.0f} B/s, "
          f"produce-throttle-time avg {throttle.get('avg')} ms, max {throttle.get('max')} ms")
    assert int(sent) == 300
    assert throttle["max"] > 0, "the broker did not throttle the over-quota user"
    assert rate < 3 * QUOTA, "the over-quota user was not held near its quota"

    # Delayed, not dropped: every record the throttled device was acknowledged for is in the topic.
    sensor = f"kd-throttled-{uuid.uuid4().hex[:6]}"
    producer = engines.Producer(BOOTSTRAP, "sensor-events", tmp_path / "throttled.log", acks="all",
                                **device("device-throttled"))
    started = time.monotonic()
    for i in range(120):
        producer.send(sensor, _event(sensor, 20.0, i, pad="x" * 900))
    producer.wait_acked(timeout=240)
    took = time.monotonic() - started
    producer.close()
    print(f"device-throttled: 120 acknowledged events of ~1 KB in {took:.1f} s ({120_000 / took:.0f} B/s)")
    records = site.consume("sensor-events", 30)
    assert sorted(json.loads(v)["seq"] for k, v in records if k == sensor) == list(range(120))
