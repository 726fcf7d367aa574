"""A generated stream of sensor events for the shipped Siddhi app, and what the app must make of it.

Events are the app's input format, `{"sensorId": ..., "value": ..., "sensorType": ..., "timestamp": ...}`
(the last two optional: a sensor with sensor_type None sends neither), keyed by sensor.
- normal: cycles 20, 21, 22 (stddev < 1: no z-score alert; the model scores 0): no alert.
- spike: 180.0 for one tick (window maximum over the rule's 100.0: rule alerts; the model scores
  1.0: model alerts; three of those within a minute: a persistent alert). Per event, at once: each
  180.0 is over the chart's `overheat` threshold (150.0), and three of them in a row make the
  `sustained-high` pattern (3 over 90.0 within 5 s) when a tick sends at least three.
- zscore: cycles 10, 11, 12, sends one 40.0 and then stays silent, so the next emission's last
  value is 40 (z > 3.0: a rule alert) while the window maximum stays in the model's normal range
  (no model alert). Send a few events per tick: one outlier among n values cannot be more than
  (n-1)/sqrt(n) standard deviations out, so z > 3 needs n >= 12 values in the window."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from tests.realengines import engines


@dataclass
class Sensor:
    name: str
    kind: str = "normal"        # normal | spike | zscore
    event_at: int = 3           # tick of the spike / z-score event
    sent: int = 0
    silent: bool = False
    sensor_type: str | None = "temperature"
    spike_sent_ms: list[int] = field(default_factory=list)  # device timestamps of the spike's events

    def value(self, tick: int) -> float | None:
        if self.silent:
            return None
        if self.kind == "spike" and tick == self.event_at:
            return 180.0
        if self.kind == "zscore":
            if tick == self.event_at:
                self.silent = True
                return 40.0
            return 10.0 + tick % 3
        return 20.0 + tick % 3

    def event(self, value: float) -> dict:
        out: dict = {"sensorId": self.name, "value": value}
        if self.sensor_type is not None:
            out.update(sensorType=self.sensor_type, timestamp=int(time.time() * 1000))
        if self.kind == "spike" and value == 180.0 and "timestamp" in out:
            self.spike_sent_ms.append(out["timestamp"])
        return out

    def expected_alerts(self, per_tick: int = 1) -> set[str]:
        """Alert kinds, windowed (model, persistent, rule) and per-event (threshold, pattern)."""
        if self.kind == "spike":
            return {"rule", "model", "persistent", "threshold"} | ({"pattern"} if per_tick >= 3 else set())
        return {"rule"} if self.kind == "zscore" else set()


@dataclass
class SensorStream:
    producer: engines.Producer
    sensors: list[Sensor]
    per_tick: int = 1           # events per sensor per tick
    tick: int = 0
    by_seq: dict[int, str] = field(default_factory=dict)

    def send_tick(self) -> None:
        for s in self.sensors:
            for _ in range(self.per_tick):
                v = s.value(self.tick)
                if v is None:
                    break
                seq = self.producer.send(s.name, json.dumps(s.event(v)))
                self.by_seq[seq] = s.name
                s.sent += 1
        self.producer.flush()
        self.tick += 1

    def run(self, seconds: float, interval: float = 1.0, on_tick=None) -> None:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            self.send_tick()
            if on_tick:
                on_tick(self.tick)
            time.sleep(max(0.0, start + self.tick * interval - time.monotonic()))

    def acked_per_sensor(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for seq in self.producer.acked:
            out[self.by_seq[seq]] = out.get(self.by_seq[seq], 0) + 1
        return out


def alerts_of(records: list[engines.Record], prefix: str) -> dict[str, list[dict]]:
    """Alert events (the app's JSON envelope) of the sensors named <prefix>*, by sensor."""
    out: dict[str, list[dict]] = {}
    for r in records:
        if r.key and r.key.startswith(prefix):
            event = r.json()["event"]
            assert event["sensorId"] == r.key, r
            out.setdefault(r.key, []).append(event)
    return out
