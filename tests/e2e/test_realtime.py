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

import time
import uuid

import pytest

from tests.e2e import realtime_site as rt
from tests.e2e.kindsite import eventually


@pytest.fixture
def receiver(site):
    site.kubectl.run("wait", "-n", "edgeai-monitoring", "--for=condition=Ready", "pod/monitoring-alertmanager-0",
                     "--timeout=180s", timeout=200)
    rt.start_receiver(site)
    yield
    rt.stop_receiver(site)


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
