"""python -m edgeai.retrain against a real MLflow server: a version is registered only when better by
the margin, with its metrics and prediction distribution; low-confidence samples are weighted."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
from mlflow import MlflowClient

from edgeai.retrain import dataset, frameworks, landing, metrics
from edgeai.retrain.__main__ import main
from edgeai.retrain.settings import RetrainSettings
from tests.retrain import sensors

SETTINGS = {"metric": "roc_auc", "margin": 0.02, "lowConfidenceThreshold": 0.3, "lowConfidenceWeight": 3,
            "heldOut": 0.25, "minLabelled": 100}


def _land(root, docs, site="lyon-store-007"):
    half = len(docs) // 2    # two landed batches on two days, as the landing writes them
    landing.landed_files({f"{site}.predictions/dt=2026-01-01/1.jsonl": docs[:half],
                          f"{site}.predictions/dt=2026-01-02/2.jsonl": docs[half:],
                          f"{site}.alerts/dt=2026-01-01/1.jsonl": [{"sensorId": "s1", "kind": "rule"}]}, root)
    return root


def _spec(name: str, **retrain) -> str:
    return json.dumps({"name": name, "framework": "sklearn", "retrain": {**SETTINGS, **retrain}})


def _run(capsys, *args) -> tuple[int, list[dict], str]:
    code = main([*args, "--json"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def test_registers_a_better_version_with_its_metrics(mlflow_server, shipped_model, tmp_path, capsys):
    model = joblib.load(shipped_model)
    root = _land(tmp_path / "landed", sensors.records(model, 600, seed=1, drifted=True, name="drift-better"))
    code, [outcome], err = _run(capsys, "--spec", _spec("drift-better"), "--landing", str(root),
                                "--tracking-uri", mlflow_server, "--baseline", str(shipped_model))
    assert code == 0, err
    assert outcome["registered"] and outcome["version"] == "2" and outcome["current_version"] == "1"
    assert outcome["improvement"] >= 0.02 and outcome["held_out"] == 150 and outcome["trained_on"] == 450

    c = MlflowClient(mlflow_server)
    v1, v2 = (c.get_model_version("drift-better", n) for n in ("1", "2"))
    assert v1.tags["edgeai.verdict"] == "baseline" and v2.tags["edgeai.verdict"] == "better"
    assert float(v2.tags["edgeai.metric.value"]) == pytest.approx(outcome["new_value"])
    assert v2.tags["edgeai.baseline.version"] == "1"
    histogram = json.loads(v2.tags["edgeai.predictions"])
    assert sum(histogram["counts"]) == 450 and histogram["edges"][0] == 0.0 and histogram["edges"][-1] == 1.0
    run = c.get_run(v2.run_id)
    assert run.data.metrics["held_out_roc_auc"] == pytest.approx(outcome["new_value"])
    assert run.data.metrics["current_roc_auc"] == pytest.approx(outcome["current_value"])
    # The registered artifact is what MLServer loads: model.joblib, the shipped model's kind, refitted.
    import mlflow.artifacts
    folder = mlflow.artifacts.download_artifacts(artifact_uri=v2.source, dst_path=str(tmp_path / "v2"),
                                                 tracking_uri=mlflow_server)
    new = joblib.load(f"{folder}/model.joblib")
    assert type(new) is type(model) and new.get_params() == model.get_params()

    # Again on the same data: version 2 is now the one to beat, and it is not beaten.
    code, [again], _ = _run(capsys, "--spec", _spec("drift-better"), "--landing", str(root),
                            "--tracking-uri", mlflow_server)
    assert code == 0 and not again["registered"] and again["current_version"] == "2"
    assert [v.version for v in c.search_model_versions("name = 'drift-better'")] == ["2", "1"]


def test_a_worse_version_is_not_registered(mlflow_server, shipped_model, tmp_path, capsys):
    model = joblib.load(shipped_model)
    # Old records with coin-flip labels (what the new version trains on), the newest labelled truly.
    docs = sensors.records(model, 450, seed=2, drifted=False, label_noise=1.0, name="drift-worse") + \
        sensors.records(model, 150, seed=3, drifted=False, start_ts=10**9, name="drift-worse")
    root = _land(tmp_path / "landed", docs)
    code, [outcome], err = _run(capsys, "--spec", _spec("drift-worse"), "--landing", str(root),
                                "--tracking-uri", mlflow_server, "--baseline", str(shipped_model))
    assert code == 0, err
    assert not outcome["registered"] and outcome["version"] is None and outcome["improvement"] < 0
    versions = MlflowClient(mlflow_server).search_model_versions("name = 'drift-worse'")
    assert [v.version for v in versions] == ["1"]     # the baseline only


def test_not_better_by_the_margin_says_so(mlflow_server, shipped_model, tmp_path, capsys):
    model = joblib.load(shipped_model)
    root = _land(tmp_path / "landed", sensors.records(model, 400, seed=4, drifted=False, name="same-data"))
    code = main(["--spec", _spec("same-data"), "--landing", str(root), "--tracking-uri", mlflow_server,
                 "--baseline", str(shipped_model)])
    out = capsys.readouterr().out
    assert code == 0 and "not better by the margin, nothing registered" in out and "margin 0.02" in out
    assert [v.version for v in MlflowClient(mlflow_server).search_model_versions("name = 'same-data'")] == ["1"]


def test_low_confidence_samples_are_weighted(mlflow_server, shipped_model, tmp_path, capsys, monkeypatch):
    model = joblib.load(shipped_model)
    docs = sensors.records(model, 400, seed=5, drifted=True, name="weighted")
    for i, d in enumerate(docs):
        d["confidence"] = 0.1 if i % 4 == 0 else 0.9      # every fourth: the edge was unsure
    root = _land(tmp_path / "landed", docs)
    seen = {}
    trainer = frameworks.TRAINERS["sklearn"]
    fit_like = trainer.fit_like

    def spy(current, X, y, weights):
        seen["weights"] = weights
        return fit_like(current, X, y, weights)

    monkeypatch.setattr(trainer, "fit_like", spy)
    code, [outcome], err = _run(capsys, "--spec", _spec("weighted", heldOut=0.2), "--landing", str(root),
                                "--tracking-uri", mlflow_server, "--baseline", str(shipped_model))
    assert code == 0, err
    expected = np.array([3.0 if i % 4 == 0 else 1.0 for i in range(320)])   # the 320 oldest train
    assert np.array_equal(seen["weights"], expected)
    assert outcome["low_confidence"] == 80
    run = MlflowClient(mlflow_server).search_runs(
        [MlflowClient(mlflow_server).get_experiment_by_name("retrain/weighted").experiment_id],
        filter_string="tags.`edgeai.verdict` != 'baseline'")[0]
    assert run.data.metrics["low_confidence_samples"] == 80
    assert run.data.metrics["training_weight_total"] == 80 * 3 + 240


def test_weights_default_confidence_is_the_distance_from_the_boundary():
    s = RetrainSettings(lowConfidenceThreshold=0.3, lowConfidenceWeight=5)
    recs = [landing.parse(json.dumps({"features": [1], "prediction": p}), "x")[1] for p in (0.5, 0.6, 0.9, 0.0)]
    assert [round(r.confidence, 2) for r in recs] == [0.0, 0.2, 0.8, 1.0]
    assert dataset.weights(recs, s).tolist() == [5.0, 5.0, 1.0, 1.0]


def test_the_recorded_distribution_bins_scores_as_the_sites_count_them():
    """floor(score * 10), the last bin closed: the Siddhi app's edgeai_cep_predictions_total bins, which
    the drift rules compare with this record (numpy's own edges would put 0.3, 0.6 and 0.7 a bin lower)."""
    recorded = metrics.histogram(np.array([0.0, 0.05, 0.3, 0.6, 0.7, 0.95, 1.0]))
    assert recorded["counts"] == [2, 0, 0, 1, 0, 0, 1, 1, 0, 2]
    assert recorded["edges"] == [round(i / 10, 6) for i in range(11)]
    # A regression's scores keep their own range.
    assert metrics.histogram(np.array([3.0, 5.0, 7.0]), bins=2) == {"edges": [3.0, 5.0, 7.0], "counts": [1, 2]}


def test_siddhi_envelope_and_other_models_records(tmp_path):
    landing.landed_files({"s1.predictions/dt=2026-01-01/1.jsonl": [
        {"event": {"model": "sensor-anomaly", "features": [1, 2], "prediction": 0.9, "label": 1, "predictedAt": 5}},
        {"model": "other", "features": [1, 2], "prediction": 0.1}]}, tmp_path)
    [r] = list(landing.records(landing.source(str(tmp_path)), "sensor-anomaly"))
    assert r.features == (1.0, 2.0) and r.label == 1.0 and r.ts == 5


@pytest.mark.parametrize(("case", "message"), [
    ("few labels", "fewer than minLabelled"),
    ("no baseline", "has no version in the registry"),
    ("framework", "no trainer for framework 'onnx'"),
    ("bad record", "needs `features` and `prediction`"),
])
def test_bad_input_fails_cleanly_and_registers_nothing(mlflow_server, shipped_model, tmp_path, capsys, case,
                                                       message):
    model = joblib.load(shipped_model)
    name = "bad-" + case.replace(" ", "-")
    docs = sensors.records(model, 300, seed=6, drifted=True, name=name)
    spec, baseline = _spec(name), ["--baseline", str(shipped_model)]
    if case == "few labels":
        for d in docs[:250]:
            del d["label"]
    elif case == "no baseline":
        baseline = []
    elif case == "framework":
        spec = json.dumps({"name": name, "framework": "onnx", "retrain": SETTINGS})
    elif case == "bad record":
        docs[7] = {"sensorId": "s1", "score": 0.3}
    root = _land(tmp_path / "landed", docs)
    code = main(["--spec", spec, "--landing", str(root), "--tracking-uri", mlflow_server, *baseline])
    assert code == 2 and message in capsys.readouterr().err
    assert MlflowClient(mlflow_server).search_model_versions(f"name = '{name}'") == []
