"""Training per model framework: the retrain entry point dispatches on the model file's `framework`.

A trainer turns the current version's artifact directory into a model, fits a new one of the same
kind on the landed data, scores models and writes the artifact the model-serving chart copies into
/mnt/models/<model> (so MLServer or Triton loads it as it loads the shipped one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Trainer(Protocol):
    def load(self, artifact: Path) -> Any: ...
    def fit_like(self, current: Any, X: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Any: ...
    def predict(self, model: Any, X: np.ndarray) -> np.ndarray: ...
    def save(self, model: Any, artifact: Path) -> None: ...


class SklearnTrainer:
    """scikit-learn, as MLServer's sklearn runtime serves it: <dir>/model.joblib.

    The new version is the current estimator cloned (same class and hyperparameters: for the shipped
    sensor-anomaly model, a depth-3 regression tree scoring in [0, 1]) and refitted: retraining
    changes what it learned, not its contract with the Siddhi app (outputs[0].data[0] is the score).
    """
    FILE = "model.joblib"

    def load(self, artifact: Path) -> Any:
        import joblib
        path = artifact / self.FILE if artifact.is_dir() else artifact
        return joblib.load(path)

    def fit_like(self, current: Any, X: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Any:
        from sklearn.base import clone
        return clone(current).fit(X, y, sample_weight=weights)

    def predict(self, model: Any, X: np.ndarray) -> np.ndarray:
        # MLServer's sklearn runtime answers predict_proba for classifiers when asked; the score a
        # classifier stands for is its positive class's probability.
        if hasattr(model, "predict_proba") and getattr(model, "classes_", None) is not None \
                and len(model.classes_) == 2:
            return model.predict_proba(X)[:, 1]
        return np.asarray(model.predict(X), dtype=float)

    def save(self, model: Any, artifact: Path) -> None:
        import joblib
        artifact.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, artifact / self.FILE)


TRAINERS: dict[str, Trainer] = {"sklearn": SklearnTrainer()}


class UnsupportedFramework(ValueError):
    pass


def trainer(framework: str) -> Trainer:
    try:
        return TRAINERS[framework]
    except KeyError:
        raise UnsupportedFramework(f"no trainer for framework {framework!r} yet (have: {', '.join(TRAINERS)}); "
                                   "add one to edgeai.retrain.frameworks.TRAINERS") from None
