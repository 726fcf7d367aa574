"""Actions (issue 11): the monitoring chart's Alertmanager (v0.31.1, built from its Go module by
scripts/install-engines.sh) on the local site's rendered alertmanager.yml, fed by the real Siddhi
engine's http sink (every alert of the alerts topic, both paths) and by a Prometheus-shaped alert,
routing to a webhook receiver that records each delivery.

The local environment declares two receivers: maintenance ("machine failure": warning alerts with
action machine-failure, and whatever no route matches, e.g. Prometheus' platform alerts) and
line-control ("shut down the line": critical alerts with action shut-down-line).

Adapted for 127.0.0.1: the receivers' in-cluster URLs, Alertmanager's listen address and storage
path, and the CEP's Alertmanager URL. Prometheus itself is not run (only promtool is built here):
its alert is posted to the same /api/v2/alerts endpoint, with the labels a chart rule and the
site's external_labels give it; test_monitoring_engine checks the rendered `alerting` section."""

from __future__ import annotations

import time

import yaml

from tests.realengines import alerting, engines, sensors
from tests.realengines.engines import LOCAL

RECEIVER_HOST = "http://alert-receiver.edgeai-alert-receiver.svc:8080"


def test_prometheus_is_pointed_at_the_sites_alertmanager() -> None:
    objects = engines.rendered_site(*LOCAL)["monitoring"]
    config = yaml.safe_load(engines.config_map(objects, "monitoring-prometheus")["prometheus.yml"])
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["monitoring-alertmanager:9093"]


def test_alertmanager_routes_cep_and_prometheus_alerts_to_their_webhooks(local_engines, tmp_path) -> None:
    engines.require("java", "siddhi", "alertmanager")
    site = local_engines
    prefix = "act-"
    # Two spikes: the first post of the runner's HTTP client is a cold start (connection, JIT), the
    # second shows the warm path.
    spikes = [sensors.Sensor(f"{prefix}spike", "spike", event_at=1), sensors.Sensor(f"{prefix}spike-2", "spike",
                                                                                   event_at=7)]
    quiet = [sensors.Sensor(f"{prefix}quiet-{i}") for i in range(2)]
    receiver = alerting.WebhookReceiver().start()
    with engines.processes() as procs:
        am = alerting.Alertmanager(engines.rendered_site(*LOCAL)["monitoring"], tmp_path / "alertmanager", procs,
                                   {RECEIVER_HOST: receiver.url}).start()
        runner = site.siddhi(tmp_path / "siddhi", procs)
        runner.alertmanager_url = am.url
        runner.start()
        producer = engines.Producer(site.kafka.bootstrap, "sensor-events", tmp_path / "producer.log", acks="all")
        try:
            stream = sensors.SensorStream(producer, [*spikes, *quiet], per_tick=5)
            stream.run(seconds=13)        # the per-event alerts at once, the windowed ones after 10 s
            producer.wait_acked()
            # A platform alert as Prometheus sends it: a chart rule's labels plus the external labels.
            am.post([{"labels": {"alertname": "ModelServerDown", "severity": "critical", "environment": "local",
                                 "site": "local", "region": "local"},
                      "annotations": {"summary": "model server down"}}])

            def names(path: str) -> set[str]:
                return {a["labels"]["alertname"] for _, a in receiver.alerts(path)}

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if {"overheat"} <= names("/line-control") and \
                        {"sustained-high", "model", "rule", "ModelServerDown"} <= names("/maintenance"):
                    break
                time.sleep(0.2)
            time.sleep(2)        # anything spurious has had time to arrive
            line, maintenance = receiver.alerts("/line-control"), receiver.alerts("/maintenance")
            spike_names = {s.name for s in spikes}
            assert names("/line-control") == {"overheat"}, line
            assert {"sustained-high", "model", "rule", "ModelServerDown"} <= names("/maintenance"), maintenance
            assert {p.path for p in receiver.deliveries} == {"/line-control", "/maintenance"}
            for _, a in line:
                assert (a["labels"]["action"], a["labels"]["severity"]) == ("shut-down-line", "critical"), a
                assert a["labels"]["sensorId"] in spike_names and a["labels"]["path"] == "per-event", a
                assert a["labels"]["site"] == "local", a
            cep = [a for _, a in maintenance if a["labels"].get("source") == "siddhi"]
            platform = [a for _, a in maintenance if a["labels"].get("source") != "siddhi"]
            assert {a["labels"]["alertname"] for a in platform} == {"ModelServerDown"}, platform
            for a in cep:     # no quiet sensor anywhere; every CEP alert here asks for maintenance
                assert a["labels"]["sensorId"] in spike_names, a
                assert (a["labels"]["action"], a["labels"]["severity"]) == ("machine-failure", "warning"), a
            assert {a["labels"]["path"] for a in cep} == {"per-event", "windowed"}

            # Device timestamp -> webhook delivery, per spike and path (its first delivery).
            latency: dict[tuple[str, str], int] = {}
            for received, a in sorted(line + maintenance, key=lambda x: x[0]):
                labels = a["labels"]
                if labels.get("source") == "siddhi":
                    latency.setdefault((labels["sensorId"], labels["path"]),
                                       received - int(a["annotations"]["eventTime"]))
            for s in spikes:
                windowed = [r for r, a in maintenance if a["labels"].get("sensorId") == s.name
                            and a["labels"]["path"] == "windowed"]
                print(f"{s.name}: device->webhook per-event {latency[(s.name, 'per-event')]} ms "
                      f"(from the triggering event), windowed {latency.get((s.name, 'windowed'))} ms from the "
                      f"window's newest event, {min(windowed) - s.spike_sent_ms[0] if windowed else None} ms "
                      f"from the spike")
            assert latency[(spikes[1].name, "per-event")] < 1000, latency    # warm: well under a second
        finally:
            producer.close()
            receiver.close()
            assert runner.proc is not None and runner.proc.alive(), runner.proc.output() if runner.proc else ""
