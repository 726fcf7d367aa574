"""Landed prediction records of the sensor-anomaly model, with the generator's ground truth as labels
(no site produces labels yet: edgeai.retrain says where they would come from).

`shipped` windows are drawn like images/model-sensor-anomaly/train.py draws its training data (the
shipped model knows them); `drifted` anomalies are subtle (peaks just above the normal range, little
spread) and the shipped model misses many of them: what a retrain is for."""

from __future__ import annotations

import numpy as np


def window(rng: np.random.Generator, anomalous: bool, drifted: bool) -> list[float]:
    avg = rng.uniform(5, 45)
    spread = rng.uniform(0, 6)
    lo, hi = avg - spread, avg + spread
    if not anomalous:
        return [avg, lo, hi, rng.uniform(0, 3), rng.uniform(lo, hi)]
    if drifted:
        peak = hi + rng.uniform(8, 25)
        return [avg + rng.uniform(0.5, 2), lo, peak, rng.uniform(2, 4), rng.uniform(lo, peak)]
    peak = rng.uniform(90, 400)
    return [avg + peak / 20, lo, peak, rng.uniform(5, 80), rng.uniform(lo, peak)]


def records(model, n: int, *, seed: int, drifted: bool, label_noise: float = 0.0, start_ts: int = 0,
            name: str | None = "sensor-anomaly") -> list[dict]:
    """n records in time order; the deployed `model` scored them (prediction; confidence left to the
    reader's default |2p - 1|); `label_noise` of the labels are replaced by coin flips."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        anomalous = bool(rng.random() < 0.4)
        features = window(rng, anomalous, drifted)
        label = float(anomalous) if rng.random() >= label_noise else float(rng.random() < 0.5)
        prediction = float(model.predict(np.array([features]))[0])
        doc = {"features": [round(f, 4) for f in features], "prediction": prediction, "model_version": "1",
               "label": label, "ts": start_ts + i * 1000}
        if name:
            doc["model"] = name
        out.append(doc)
    return out
