"""The sensor-anomaly model: a regression tree scoring a sensor window's features in [0, 1].

The Siddhi app sends [avg, min, max, stddev, last] of a sensor's window and reads
outputs[0].data[0] as the anomaly score: 1.0 when the window's maximum is far above the normal
range, 0.0 otherwise. Seeded, so every build trains the same tree. Usage: train.py OUT_FILE
"""
import sys

import joblib
import numpy as np
from sklearn.tree import DecisionTreeRegressor

rng = np.random.default_rng(7)
rows, labels = [], []
for _ in range(400):
    avg = rng.uniform(5, 45)
    spread = rng.uniform(0, 6)
    lo, hi = avg - spread, avg + spread
    rows.append([avg, lo, hi, rng.uniform(0, 3), rng.uniform(lo, hi)])
    labels.append(0.0)
    peak = rng.uniform(90, 400)
    rows.append([avg + peak / 20, lo, peak, rng.uniform(5, 80), rng.uniform(lo, peak)])
    labels.append(1.0)
model = DecisionTreeRegressor(max_depth=3, random_state=0).fit(np.array(rows), np.array(labels))
joblib.dump(model, sys.argv[1])
