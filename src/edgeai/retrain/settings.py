"""A model's `retrain:` block (environments/schema/model.schema.json) with its defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# Metrics where a lower value is better; every other metric is better higher.
LOWER_IS_BETTER = frozenset({"brier", "mae", "rmse"})


@dataclass(frozen=True)
class RetrainSettings:
    metric: str = "roc_auc"
    margin: float = 0.01
    lowConfidenceThreshold: float = 0.3   # the model file's keys, as written there
    lowConfidenceWeight: float = 2.0
    heldOut: float = 0.2
    minLabelled: int = 200

    @classmethod
    def of(cls, block: dict[str, Any] | None) -> RetrainSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(block or {}) - known
        if unknown:
            raise ValueError(f"unknown retrain setting(s): {', '.join(sorted(unknown))}")
        return cls(**(block or {}))

    def improvement(self, new: float, current: float) -> float:
        """How much better `new` is than `current`, positive when better, in the metric's direction."""
        return current - new if self.metric in LOWER_IS_BETTER else new - current


@dataclass(frozen=True)
class ModelSpec:
    """What a retrain run needs of a model file: its name, framework and retrain settings."""
    name: str
    framework: str
    settings: RetrainSettings

    @classmethod
    def of(cls, model: dict[str, Any]) -> ModelSpec:
        return cls(model["name"], model["framework"], RetrainSettings.of(model.get("retrain")))
