"""Landed records as a training set: labelled only, the newest held back, low-confidence weighted."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from edgeai.retrain.landing import Record
from edgeai.retrain.settings import RetrainSettings


@dataclass(frozen=True)
class Dataset:
    X_train: np.ndarray
    y_train: np.ndarray
    weights: np.ndarray          # per training sample: lowConfidenceWeight below the threshold, else 1
    X_held: np.ndarray
    y_held: np.ndarray
    unlabelled: int              # records skipped for want of a label

    @property
    def low_confidence(self) -> int:
        return int(np.count_nonzero(self.weights != 1.0))


class NotEnoughData(ValueError):
    pass


def weights(records: Iterable[Record], s: RetrainSettings) -> np.ndarray:
    """A record without a confidence (a regression without a score in [0, 1]) is not low-confidence."""
    return np.array([s.lowConfidenceWeight if r.confidence is not None and r.confidence < s.lowConfidenceThreshold
                     else 1.0 for r in records])


def build(records: Iterable[Record], s: RetrainSettings) -> Dataset:
    every = list(records)
    labelled = [r for r in every if r.label is not None]
    if len(labelled) < s.minLabelled:
        raise NotEnoughData(f"{len(labelled)} labelled record(s) of {len(every)}, fewer than minLabelled "
                            f"({s.minLabelled})")
    widths = {len(r.features) for r in labelled}
    if len(widths) != 1:
        raise ValueError(f"landed records disagree on the number of features: {sorted(widths)}")
    # Newest last (records without ts keep their landed order, first): the held-back slice is the newest
    # data, what the next version will meet first.
    ordered = sorted(enumerate(labelled), key=lambda ir: (ir[1].ts is not None, ir[1].ts or 0, ir[0]))
    ordered = [r for _, r in ordered]
    held = max(1, math.ceil(len(ordered) * s.heldOut))
    train, test = ordered[:-held], ordered[-held:]
    X = lambda rs: np.array([r.features for r in rs], dtype=float)  # noqa: E731
    y = lambda rs: np.array([r.label for r in rs], dtype=float)     # noqa: E731
    return Dataset(X(train), y(train), weights(train, s), X(test), y(test), len(every) - len(labelled))
