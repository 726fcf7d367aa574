"""The MLflow model registry as the retrain loop uses it: one registered model per model file (its
`name`), one experiment `retrain/<name>` of runs, a version per registered artifact.

What a version carries, as tags (read by `edgeai models promote`):
- edgeai.verdict: `better` (a retrain run beat edgeai.baseline.version by the margin) or `baseline`
  (the artifact the loop started from, registered as it was);
- edgeai.metric, edgeai.metric.value, edgeai.baseline.version, edgeai.baseline.value, edgeai.margin;
- edgeai.predictions: the histogram of its predictions on its training data (JSON), for drift checks;
  also the run's artifact prediction_distribution.json.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

TAG_VERDICT = "edgeai.verdict"
TAG_METRIC = "edgeai.metric"
TAG_VALUE = "edgeai.metric.value"
TAG_BASELINE_VERSION = "edgeai.baseline.version"
TAG_BASELINE_VALUE = "edgeai.baseline.value"
TAG_MARGIN = "edgeai.margin"
TAG_PREDICTIONS = "edgeai.predictions"
ARTIFACT_DIR = "model"          # the run's artifact folder the version points at (what a site fetches)


class RegistryError(RuntimeError):
    pass


def tracking_uri(given: str | None) -> str:
    uri = given or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise RegistryError("no MLflow tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI")
    return uri


def client(uri: str | None):
    from mlflow import MlflowClient  # the retrain extra: the rest of edgeai runs without MLflow

    uri = tracking_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def versions(c, name: str) -> list[Any]:
    """Every version of the registered model, oldest first ([] when it is not registered)."""
    found = c.search_model_versions(filter_string=f"name = '{name}'")
    return sorted(found, key=lambda v: int(v.version))


def latest(c, name: str):
    every = versions(c, name)
    return every[-1] if every else None


def version(c, name: str, number: str):
    from mlflow.exceptions import MlflowException
    try:
        return c.get_model_version(name, str(number))
    except MlflowException:
        return None


def download(c, mv, into: Path) -> Path:
    import mlflow.artifacts
    into.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=mv.source, dst_path=str(into),
                                                    tracking_uri=c.tracking_uri))


def _experiment(c, name: str) -> str:
    found = c.get_experiment_by_name(f"retrain/{name}")
    return found.experiment_id if found else c.create_experiment(f"retrain/{name}")


def log_run(c, name: str, *, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str],
            artifact: Path | None = None, texts: dict[str, str] | None = None) -> Any:
    """One finished run of experiment retrain/<name>; `artifact` (a folder) is logged under model/."""
    from mlflow.entities import Metric, Param, RunTag

    run = c.create_run(_experiment(c, name), tags={"mlflow.runName": f"retrain-{name}-{int(time.time())}"})
    rid, now = run.info.run_id, int(time.time() * 1000)
    c.log_batch(rid, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()])
    if artifact is not None:
        c.log_artifacts(rid, str(artifact), ARTIFACT_DIR)
    for path, text in (texts or {}).items():
        c.log_text(rid, text, path)
    c.set_terminated(rid)
    return c.get_run(rid)


def register(c, name: str, run, tags: dict[str, str]):
    """A new version of `name` pointing at the run's model/ folder."""
    from mlflow.exceptions import MlflowException

    try:
        c.create_registered_model(name, description=f"{name}: versions registered by edgeai.retrain")
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    return c.create_model_version(name, source=f"{run.info.artifact_uri}/{ARTIFACT_DIR}",
                                  run_id=run.info.run_id, tags=tags)


def histogram_tag(histogram: dict[str, Any]) -> str:
    return json.dumps(histogram, separators=(",", ":"))
