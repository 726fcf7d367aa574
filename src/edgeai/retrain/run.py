"""One retrain run of one model: train on landed data, compare with the current version, register
the new one only when it is better by the declared margin."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeai.retrain import dataset, frameworks, landing, metrics, registry
from edgeai.retrain.settings import ModelSpec


@dataclass(frozen=True)
class Outcome:
    model: str
    registered: bool
    version: str | None           # the version registered, else None
    current_version: str          # the version compared with
    metric: str
    current_value: float
    new_value: float
    improvement: float            # positive: the new version is better
    margin: float
    trained_on: int
    held_out: int
    low_confidence: int           # training samples weighted lowConfidenceWeight
    unlabelled: int

    def sentence(self) -> str:
        comparison = (f"{self.metric} {self.new_value:.4f} against {self.current_value:.4f} of version "
                      f"{self.current_version} on {self.held_out} held-out sample(s) "
                      f"({self.improvement:+.4f}, margin {self.margin})")
        if self.registered:
            return f"{self.model}: registered version {self.version}: {comparison}"
        return f"{self.model}: not better by the margin, nothing registered: {comparison}"

    def as_dict(self) -> dict:
        return asdict(self)


class NoBaseline(ValueError):
    pass


def _baseline(c, spec: ModelSpec, artifact: Path | None, work: Path):
    """The version to beat: the newest registered one; on a registry without the model, `artifact`
    (the current version as built, e.g. the shipped model's model.joblib) registered as version 1."""
    current = registry.latest(c, spec.name)
    if current is not None:
        return current
    if artifact is None:
        raise NoBaseline(f"{spec.name} has no version in the registry: register the current artifact "
                         "first (--baseline FILE_OR_DIR)")
    folder = artifact
    if artifact.is_file():   # one file: the artifact folder holds it under its own name
        folder = work / "baseline"
        folder.mkdir()
        shutil.copy(artifact, folder / artifact.name)
    run = registry.log_run(c, spec.name, params={"framework": spec.framework, "origin": str(artifact)},
                           metrics={}, tags={registry.TAG_VERDICT: "baseline"}, artifact=folder)
    return registry.register(c, spec.name, run, {registry.TAG_VERDICT: "baseline"})


def register_baseline(c, spec: ModelSpec, artifact: Path):
    """The version to beat, registering `artifact` as version 1 when the registry has none."""
    with tempfile.TemporaryDirectory(prefix="edgeai-baseline-") as tmp:
        return _baseline(c, spec, artifact, Path(tmp))


def retrain(spec: ModelSpec, source: landing.Source, c, *, baseline: Path | None = None,
            landing_uri: str = "") -> Outcome:
    s = spec.settings
    trainer = frameworks.trainer(spec.framework)
    data = dataset.build(landing.records(source, spec.name), s)
    with tempfile.TemporaryDirectory(prefix="edgeai-retrain-") as tmp:
        work = Path(tmp)
        current_mv = _baseline(c, spec, baseline, work)
        current = trainer.load(registry.download(c, current_mv, work / "current"))
        new = trainer.fit_like(current, data.X_train, data.y_train, data.weights)
        current_value = metrics.score(s.metric, data.y_held, trainer.predict(current, data.X_held))
        new_value = metrics.score(s.metric, data.y_held, trainer.predict(new, data.X_held))
        improvement = s.improvement(new_value, current_value)
        better = improvement > 0 and improvement >= s.margin
        histogram = metrics.histogram(trainer.predict(new, data.X_train))
        tags = {registry.TAG_VERDICT: "better" if better else "not-better", registry.TAG_METRIC: s.metric,
                registry.TAG_VALUE: repr(new_value), registry.TAG_BASELINE_VERSION: str(current_mv.version),
                registry.TAG_BASELINE_VALUE: repr(current_value), registry.TAG_MARGIN: repr(s.margin)}
        artifact = None
        if better:   # a rejected model's artifact is not kept; its run (metrics) is
            artifact = work / "new"
            trainer.save(new, artifact)
        run = registry.log_run(
            c, spec.name,
            params={"framework": spec.framework, "landing": landing_uri, **asdict(s)},
            metrics={f"held_out_{s.metric}": new_value, f"current_{s.metric}": current_value,
                     "improvement": improvement, "train_samples": len(data.y_train),
                     "held_out_samples": len(data.y_held), "low_confidence_samples": data.low_confidence,
                     "training_weight_total": float(data.weights.sum()), "unlabelled_records": data.unlabelled},
            tags=tags, artifact=artifact,
            texts={"prediction_distribution.json": json.dumps(histogram, indent=2)})
        registered = None
        if better:
            registered = registry.register(c, spec.name, run,
                                           {**tags, registry.TAG_PREDICTIONS: registry.histogram_tag(histogram)})
    return Outcome(spec.name, better, registered.version if registered else None, str(current_mv.version),
                   s.metric, current_value, new_value, improvement, s.margin, len(data.y_train), len(data.y_held),
                   data.low_confidence, data.unlabelled)
