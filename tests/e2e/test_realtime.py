"""Real-time alerting on the `local` site on kind (issue 11): sensor events into Kafka, the CEP's
per-event rules and windowed features, Alertmanager's routes, and webhooks, all in the cluster.

A webhook receiver runs in namespace edgeai-alert-receiver (the URLs environments/local declares
for the maintenance and line-control receivers), from the MLServer image the site already has.
Events are streamed from the CEP's pod with device timestamps: a spiking sensor (five 180s in one
tick: over the `overheat` threshold, and `sustained-high` three in a row; then the windowed model
and rule alerts) and a quiet one. Expected: the per-event `overheat` alert at the line-control
webhook, the per-event pattern and the windowed alerts at the maintenance webhook, nothing for the
quiet sensor, nothing at line-control that does not ask to shut the line down. Printed: the
measured device->webhook latency per path."""

from __future__ import annotations

import json
import time
import uuid

from tests.e2e import realtime_site as rt
from tests.e2e.kindsite import GATEWAY, eventually


def _ours(deliveries: list[dict], sensors: set[str]) -> list[dict]:
    return [d for d in deliveries if d["alert"]["labels"].get("sensorId") in sensors]


def test_per_event_and_windowed_alerts_reach_their_webhooks(site, receiver):
    run = uuid.uuid4().hex[:6]
    spike, quiet = f"rt-spike-{run}", f"rt-quiet-{run}"
    producer = rt.StreamingProducer(site)
    spike_sent_ms: list[int] = []
    try:
        producer.flush(timeout=120)           # the producer's JVM is up and connected
        start = time.monotonic()
        for tick in range(12):
            now = int(time.time() * 1000)
            producer.send(quiet, {"sensorId": quiet, "sensorType": "temperature", "value": 20.0 + tick % 3,
                                  "timestamp": now})
            for _ in range(5):
                value = 180.0 if tick == 3 else 20.0 + tick % 3
                if value == 180.0:
                    spike_sent_ms.append(now)
                producer.send(spike, {"sensorId": spike, "sensorType": "temperature", "value": value,
                                      "timestamp": now})
            producer.flush()
            time.sleep(max(0.0, start + tick + 1 - time.monotonic()))
    finally:
        errors = producer.close()
    assert not errors, errors

    def arrived():
        got = _ours(rt.deliveries(site), {spike, quiet})
        line = {d["alert"]["labels"]["alertname"] for d in got if d["path"] == "/line-control"}
        paths = {d["alert"]["labels"]["path"] for d in got if d["path"] == "/maintenance"}
        return got if "overheat" in line and {"per-event", "windowed"} <= paths else None

    eventually("the per-event and the windowed alerts at their webhooks", arrived, 120, 2)
    time.sleep(10)                            # anything spurious has had time to arrive
    every = rt.deliveries(site)
    got = _ours(every, {spike, quiet})
    assert not [d for d in got if d["alert"]["labels"]["sensorId"] == quiet], "an alert for the quiet sensor"
    for d in every:                           # line-control: only what asks to shut the line down
        if d["path"] == "/line-control":
            labels = d["alert"]["labels"]
            assert (labels.get("action"), labels.get("severity")) == ("shut-down-line", "critical"), d
    line = [d for d in got if d["path"] == "/line-control"]
    maintenance = [d for d in got if d["path"] == "/maintenance"]
    assert {d["alert"]["labels"]["alertname"] for d in line} == {"overheat"}
    assert {d["alert"]["labels"]["action"] for d in maintenance} == {"machine-failure"}
    assert "sustained-high" in {d["alert"]["labels"]["alertname"] for d in maintenance}

    # Latency per path: the webhook's arrival time minus the device timestamp of the alert's event
    # (windowed: the window's newest event), and minus the spike's first event.
    for path in ("per-event", "windowed"):
        ds = sorted((d for d in got if d["alert"]["labels"]["path"] == path), key=lambda d: d["received_ms"])
        first = ds[0]
        from_event = first["received_ms"] - int(first["alert"]["annotations"]["eventTime"])
        print(f"{path}: device->webhook {from_event} ms (alert {first['alert']['labels']['alertname']}), "
              f"{first['received_ms'] - spike_sent_ms[0]} ms after the spike's first event")
    per_event_first = min(d["received_ms"] for d in got if d["alert"]["labels"]["path"] == "per-event")
    windowed_first = min(d["received_ms"] for d in got if d["alert"]["labels"]["path"] == "windowed")
    assert per_event_first < windowed_first, "the per-event path does not wait for a window"



# --- devices: MQTT over TLS and HTTPS into Kafka (charts/ingest, the gateway's /v1/events route) ---------

MQTT_PORT = 30883   # environments/local/environment.yaml: components.ingest.mqtt.service.nodePort


def _device(site) -> tuple[str, str]:
    """The local site's one device: `edgeai up` makes edgeai:ingestDeviceKeys one key line, device-1."""
    (key,) = site.secrets["ingestDeviceKeys"].split()
    return "device-1", key


def _mqtt_client(site, user: str | None, password: str | None, protocol=None):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from edgeai import gateway_tls
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"e2e-{uuid.uuid4().hex[:8]}",
                    protocol=protocol or paho.MQTTv5)
    if user is not None:
        c.username_pw_set(user, password)
    c.tls_set(ca_certs=str(gateway_tls.ca_file(site.info.dir)))
    return c


def _mqtt_connect(c, timeout: float = 15) -> str:
    result: list[str] = []
    c.on_connect = lambda _c, _u, _f, rc, _p=None: result.append(str(rc))
    c.on_disconnect = lambda _c, _u, _f, rc, _p=None: result.append(f"disconnected: {rc}")
    c.connect("127.0.0.1", MQTT_PORT)
    c.loop_start()
    deadline = time.monotonic() + timeout
    while not result and time.monotonic() < deadline:
        time.sleep(0.05)
    return result[0] if result else "no CONNACK"


def _mqtt_publish(site, events: list[dict]) -> dict[str, str]:
    """Each event with QoS 1 from the host over TLS as the site's device; id -> the broker's answer."""
    device, key = _device(site)

    def connected():
        c = _mqtt_client(site, device, key)
        if _mqtt_connect(c) == "Success":
            return c
        c.loop_stop()
        c.disconnect()
        return None
    c = eventually("the MQTT broker accepts the device", connected, 120, 3)
    answers: dict[int, str] = {}
    c.on_publish = lambda _c, _u, mid, rc, _p: answers.__setitem__(mid, "ok" if not rc.is_failure else str(rc))
    mids = {e["id"]: c.publish(f"devices/{device}/sensor-events", json.dumps(e), qos=1).mid for e in events}
    deadline = time.monotonic() + 60
    while len(answers) < len(mids) and time.monotonic() < deadline:
        time.sleep(0.05)
    c.loop_stop()
    c.disconnect()
    return {i: answers.get(mid, "unanswered") for i, mid in mids.items()}


def _post_events(site, body, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return site.http(GATEWAY, "/v1/events/sensor-events", body, headers, tls=True)[0]


def _in_kafka(site, ids: set[str]) -> set[str]:
    def probe():
        seen = {json.loads(v).get("id") for _, v in site.consume("sensor-events", 20) if v.startswith("{")}
        return seen if ids <= seen else None
    return eventually(f"{len(ids)} events in sensor-events", probe, 180, 1)


def test_a_device_sends_over_mqtt_and_https_and_the_alert_arrives(site, receiver):
    """The simulator on the host is the site's device: a spiking sensor over MQTT (TLS, its password),
    a quiet one over HTTPS (its bearer key): both in Kafka, keyed by sensor; the spike's per-event
    `overheat` alert at the line-control webhook; nothing for the quiet sensor."""
    device, key = _device(site)
    run = uuid.uuid4().hex[:6]
    spike, quiet = f"dev-spike-{run}", f"dev-quiet-{run}"
    now = int(time.time() * 1000)
    spikes = [{"id": f"{spike}-{i}", "sensorId": spike, "sensorType": "temperature", "value": 180.0,
               "timestamp": now} for i in range(3)]
    calm = [{"id": f"{quiet}-{i}", "sensorId": quiet, "sensorType": "temperature", "value": 20.0 + i % 3,
             "timestamp": now} for i in range(10)]
    sent = time.time()
    assert set(_mqtt_publish(site, spikes).values()) == {"ok"}
    assert eventually("the gateway's ingest route", lambda: _post_events(site, calm, key) == 200, 120, 3)
    records = {json.loads(v).get("id"): k for k, v in site.consume("sensor-events", 20) if v.startswith("{")}
    assert {e["id"] for e in spikes + calm} <= set(records), "acknowledged events missing from Kafka"
    assert {records[e["id"]] for e in spikes} == {spike} and {records[e["id"]] for e in calm} == {quiet}

    def arrived():
        got = _ours(rt.deliveries(site), {spike, quiet})
        return got if "overheat" in {d["alert"]["labels"]["alertname"] for d in got
                                     if d["path"] == "/line-control"} else None
    got = eventually("the device's overheat alert at line-control", arrived, 120, 2)
    first = min(d["received_ms"] for d in got)
    print(f"\ndevice (MQTT, host) -> line-control webhook: {first - int(sent * 1000)} ms")
    time.sleep(5)
    assert not _ours(rt.deliveries(site), {quiet}), "an alert for the quiet sensor"


def test_devices_without_credentials_are_refused(site):
    device, key = _device(site)
    for user, password in ((None, None), (device, "not-the-key-0123456789abc")):
        c = _mqtt_client(site, user, password)
        rc = _mqtt_connect(c)
        c.loop_stop()
        assert rc != "Success" and rc != "no CONNACK", (user, rc)
    event = {"id": "x", "sensorId": "x", "value": 1.0}
    assert _post_events(site, event, None) == 401
    assert _post_events(site, event, "not-a-known-key-0123456789") == 401
    assert _post_events(site, event, site.api_key) == 403          # a model caller's key sends no events
    assert site.infer([0.1] * 4, key)[0] == 403                    # a device key calls no model


def test_a_device_over_its_limit_is_throttled_and_every_acknowledged_event_is_in_kafka(site):
    """MQTT 50 msg/s burst 100, HTTP 20 requests/s burst 40 (environments/local): a device sending
    back to back is refused past its limit (PUBACK 0x87, 429), and whatever was acknowledged is in Kafka."""
    from concurrent.futures import ThreadPoolExecutor
    _device_name, key = _device(site)
    run = uuid.uuid4().hex[:6]
    burst = [{"id": f"mq-{run}-{i}", "sensorId": f"burst-{run}", "value": 20.0} for i in range(300)]
    started = time.monotonic()
    answers = _mqtt_publish(site, burst)
    mqtt_s = time.monotonic() - started
    accepted = {i for i, a in answers.items() if a == "ok"}
    assert set(answers.values()) == {"ok", "Not authorized"}, set(answers.values())
    time.sleep(3)   # the HTTP path's own budget is separate; let MQTT's refill not matter
    posts = [{"id": f"http-{run}-{i}", "sensorId": f"burst-{run}", "value": 20.0} for i in range(120)]
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda e: _post_events(site, e, key), posts))
    http_s = time.monotonic() - started
    ok = {e["id"] for e, code in zip(posts, codes, strict=True) if code == 200}
    assert set(codes) == {200, 429}, set(codes)
    seen = _in_kafka(site, accepted | ok)
    refused = ({e["id"] for e in burst} - accepted) | ({e["id"] for e in posts} - ok)
    assert not seen & refused, "refused events reached Kafka"
    print(f"\nMQTT: {len(accepted)}/300 acknowledged in {mqtt_s:.2f} s, the rest refused (PUBACK 0x87); "
          f"HTTPS: {len(ok)}/120 accepted in {http_s:.2f} s, the rest 429; every acknowledged event in Kafka")


def test_query_api_returns_a_sensors_aggregates_and_prediction_read_only(site):
    """The query API over Redis (charts/redis `query`) through the gateway's TLS port: after a sensor's
    events went through the CEP, GET /v1/query/sensors/<id> answers its aggregates and latest prediction;
    without a key 401; Prometheus has its gauges (the query-api dashboard's data); and the API's Redis
    user cannot write."""
    import json
    import urllib.parse

    from tests.e2e import gateway_client
    from tests.e2e.kindsite import PROMETHEUS

    sensor = f"rt-query-{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    acks = site.produce("sensor-events", [(sensor, json.dumps({"sensorId": sensor, "sensorType": "temperature",
                                                               "value": 20.0 + i, "timestamp": now + i}))
                                          for i in range(5)])
    assert len(acks) == 5 and all(a.startswith("ack ") for a in acks), acks
    path = f"/v1/query/sensors/{sensor}"

    def answered():
        status, body = gateway_client.rest(site, path, key=site.api_key)
        full = status == 200 and body.get("prediction") and (body.get("aggregates") or {}).get("eventCount") == 5
        return body if full else None

    body = eventually(f"{path} with aggregates and a prediction", answered, 150, 3)
    print(f"query API: {body}")
    assert body["sensorId"] == sensor and body["aggregates"]["eventCount"] == 5
    assert body["aggregates"]["maxValue"] == 24.0 and body["aggregates"]["minValue"] == 20.0
    assert body["prediction"]["model"] == "sensor-anomaly" and 0.0 <= body["prediction"]["score"] <= 1.0
    status, listed = gateway_client.rest(site, f"/v1/query/sensors?prefix={sensor}", key=site.api_key)
    assert status == 200 and [s["sensorId"] for s in listed["sensors"]] == [sensor]
    assert gateway_client.rest(site, path)[0] == 401
    assert gateway_client.rest(site, f"/v1/query/sensors/{sensor}-none", key=site.api_key)[0] == 404

    # Prometheus scraped the query API's gauges of this sensor (what the Grafana dashboard shows).
    query = urllib.parse.quote(f'edgeai_sensor_aggregate{{sensor="{sensor}",stat="eventCount"}}')

    def scraped():
        status, res = site.http(PROMETHEUS, f"/api/v1/query?query={query}")
        return res["data"]["result"] if status == 200 and res["data"]["result"] else None

    (series,) = eventually("the sensor's gauges in Prometheus", scraped, 120, 5)
    assert float(series["value"][1]) == 5.0

    # The API's Redis user reads, never writes (its password on stdin, never on a command line).
    redis = site.pod("edgeai-redis", "app.kubernetes.io/component=server")
    script = ('read -r p; export REDISCLI_AUTH="$p"; '
              f'redis-cli --user edgeai-query hgetall sensor_aggregates:{sensor}; '
              f'redis-cli --user edgeai-query set sensor_aggregates:{sensor} overwritten; '
              f'redis-cli --user edgeai-query del sensor_aggregates:{sensor}')
    out = site.exec("edgeai-redis", redis, "sh", "-c", script, stdin=site.secrets["redisQueryPassword"] + "\n")
    print(f"as edgeai-query: {out!r}")
    assert "eventCount\n5\n" in out, out                  # it reads the sensor's row
    assert "NOPERM this user has no permissions to run the 'set' command" in out, out
    assert "NOPERM this user has no permissions to run the 'del' command" in out, out
    assert answered()["aggregates"]["eventCount"] == 5    # still there, unchanged
