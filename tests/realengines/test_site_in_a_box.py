"""The local site's data path, every component on its real engine, wired by the configurations the
charts render for the site (see the other test modules for each engine and its adaptations):

    generated sensor events -> Kafka sensor-events (acks=all)
      -> Siddhi (the shipped app: per-sensor windows, features)
      -> V2 inference through the gateway (nginx, API key) -> MLServer (a scikit-learn model)
      -> predictions back into the app's rules -> alerts -> Kafka alerts
      -> aggregates and predictions -> Kafka and Redis (AUTH, AOF)

Mid-stream the Kafka broker is killed (SIGKILL) and restarted on its volume while the generator
keeps producing. Asserted: every event the generator sent was acknowledged; every expected alert
arrives (rule, model and persistent alerts for the spiking sensors, a z-score rule alert), none for
a sensor that should stay quiet; Redis holds every sensor's aggregates, and each one counts at
least every acknowledged event of its sensor (at-least-once: a replay after the broker's restart may
count an event twice, never drop one)."""

from __future__ import annotations

import time

from tests.realengines import engines, sensors


def test_site_in_a_box_alerts_exactly_and_loses_no_acknowledged_event_across_a_broker_crash(
        local_engines, tmp_path) -> None:
    engines.require("java", "kafka", "siddhi", "redis", "nginx", "mlserver")
    site = local_engines
    prefix = "box-"
    box = [sensors.Sensor(f"{prefix}spike-a", "spike", event_at=2),
           sensors.Sensor(f"{prefix}spike-b", "spike", event_at=5),
           sensors.Sensor(f"{prefix}zscore", "zscore", event_at=6),
           *[sensors.Sensor(f"{prefix}quiet-{i}") for i in range(9)]]
    with engines.processes() as procs:
        runner = site.siddhi(tmp_path / "siddhi", procs).start()
        alerts = engines.Consumer(site.kafka.bootstrap, "alerts", tmp_path / "alerts.log")
        producer = engines.Producer(site.kafka.bootstrap, "sensor-events", tmp_path / "producer.log", acks="all",
                                    delivery_timeout_ms="120000")
        try:
            stream = sensors.SensorStream(producer, box, per_tick=5)     # 12 sensors x 5 events/s
            stream.run(seconds=12)
            broker = site.kafka.nodes[0]
            broker.kill()                                                # the broker crashes mid-stream
            stream.run(seconds=4)                                        # the generator keeps producing
            site.kafka.restart(0)
            stream.run(seconds=20)
            producer.wait_acked(timeout=120)
            assert not producer.errors
            total = sum(s.sent for s in box)
            assert len(producer.acked) == total

            def missing(records) -> dict[str, set[str]]:
                got = sensors.alerts_of(records, prefix)
                wanted = {s.name: s.expected_alerts(stream.per_tick) - {a["kind"] for a in got.get(s.name, [])}
                          for s in box}
                return {name: kinds for name, kinds in wanted.items() if kinds}

            try:
                alerts.wait_for(lambda records: not missing(records), "every expected alert", timeout=60)
            except AssertionError as e:
                raise AssertionError(f"{e}; still missing {missing(alerts.records)}") from None
            time.sleep(12)   # one more emission: the last aggregates take in the last events, late alerts land
            got = sensors.alerts_of(alerts.records, prefix)
            for s in box:
                kinds, expected = {a["kind"] for a in got.get(s.name, [])}, s.expected_alerts(stream.per_tick)
                assert kinds == expected, f"{s.name}: expected {expected}, got {kinds}"

            acked = stream.acked_per_sensor()
            for s in box:
                row = site.redis_hash(f"sensor_aggregates:{s.name}")
                assert row, f"no aggregates in Redis for {s.name}"
                assert int(row["eventCount"]) >= acked[s.name], (s.name, row, acked[s.name])
                assert float(row["maxValue"]) == {"spike": 180.0, "zscore": 40.0}.get(s.kind, 22.0), row
                assert site.redis_hash(f"sensor_predictions:{s.name}")["model"] == "sensor-anomaly"
            assert runner.proc.alive(), runner.proc.output()
        finally:
            producer.close()
            alerts.close()
