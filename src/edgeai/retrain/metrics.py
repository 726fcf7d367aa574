"""The metrics a model file's `retrain.metric` may name, on labels and the model's scores."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _positive(values: np.ndarray) -> np.ndarray:
    return (np.asarray(values) >= 0.5).astype(int)


def _roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    if len(set(_positive(y))) < 2:
        raise ValueError("roc_auc needs both classes in the held-out slice")
    return float(roc_auc_score(_positive(y), score))


def _average_precision(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score
    return float(average_precision_score(_positive(y), score))


def _accuracy(y: np.ndarray, score: np.ndarray) -> float:
    return float(np.mean(_positive(y) == _positive(score)))


def _f1(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import f1_score
    return float(f1_score(_positive(y), _positive(score), zero_division=0))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "roc_auc": _roc_auc,
    "average_precision": _average_precision,
    "accuracy": _accuracy,
    "f1": _f1,
    "brier": lambda y, p: float(np.mean((np.clip(p, 0, 1) - y) ** 2)),
    "mae": lambda y, p: float(np.mean(np.abs(p - y))),
    "rmse": lambda y, p: float(np.sqrt(np.mean((p - y) ** 2))),
}


def score(metric: str, y: np.ndarray, predictions: np.ndarray) -> float:
    return METRICS[metric](np.asarray(y, dtype=float), np.asarray(predictions, dtype=float))


def histogram(predictions: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """The distribution of a version's predictions on its training data: the reference a drift check
    compares the sites' live predictions with. Scores in [0, 1] get fixed edges; others their range."""
    p = np.asarray(predictions, dtype=float)
    lo, hi = (0.0, 1.0) if p.size and p.min() >= 0 and p.max() <= 1 else (float(p.min()), float(p.max()))
    counts, edges = np.histogram(p, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    if (lo, hi) == (0.0, 1.0):
        # Binned exactly as the sites' Siddhi app counts live scores, floor(score * bins) with the last
        # bin closed: numpy's edges put 0.3, 0.6, 0.7 one bin lower (0.7 * 10 = 7.000000000000001).
        counts = np.bincount(np.clip(np.floor(p * bins).astype(int), 0, bins - 1), minlength=bins)
    return {"edges": [round(float(e), 6) for e in edges], "counts": [int(c) for c in counts]}
