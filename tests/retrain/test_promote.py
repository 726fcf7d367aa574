"""edgeai models promote on a clone of this repository (EDGEAI_ROOT), against the real MLflow server:
the change is a commit on a new branch with deploy/ re-rendered and the gate passed; the clone's
working tree and branch stay as they were; bad input writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
import yaml
from mlflow import MlflowClient

from edgeai import paths
from edgeai.models import promote as promote_lib
from edgeai.retrain import landing
from edgeai.retrain.__main__ import main as retrain
from tests.retrain import sensors

# staging, not local: the local site's gate is the one other work changes most (its NodePorts and waivers).
ENV, MODEL = "staging", "sensor-anomaly"
FILE = Path("environments") / ENV / "models" / f"{MODEL}.yaml"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def registry(mlflow_server, shipped_model, tmp_path_factory) -> MlflowClient:
    """sensor-anomaly: version 1 the shipped model (baseline), version 2 retrained on drifted data (better)."""
    root = tmp_path_factory.mktemp("landed")
    landing.landed_files({"s1.predictions/dt=2026-01-01/1.jsonl":
                          sensors.records(joblib.load(shipped_model), 500, seed=11, drifted=True)}, root)
    spec = json.dumps({"name": MODEL, "framework": "sklearn", "retrain": {"minLabelled": 100}})
    assert retrain(["--spec", spec, "--landing", str(root), "--tracking-uri", mlflow_server,
                    "--baseline", str(shipped_model)]) == 0
    c = MlflowClient(mlflow_server)
    assert c.get_model_version(MODEL, "2").tags["edgeai.verdict"] == "better"
    return c


@pytest.fixture
def clone(tmp_path) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(paths.ROOT), str(repo)], check=True)
    git(repo, "config", "user.email", "promote-test@localhost")
    git(repo, "config", "user.name", "promote test")
    return repo


def edgeai(repo: Path, tracking: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeai.cli", *args], cwd=repo, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "EDGEAI_ROOT": str(repo), "MLFLOW_TRACKING_URI": tracking})


def promote(repo: Path, registry: MlflowClient, *args: str) -> subprocess.CompletedProcess:
    return edgeai(repo, registry.tracking_uri, "models", "promote", "--env", ENV, MODEL, *args)


def at(repo: Path, rev: str, path: Path) -> str:
    return git(repo, "show", f"{rev}:{path.as_posix()}")


def untouched(repo: Path, head: str) -> None:
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert git(repo, "status", "--porcelain", "--", "environments", "deploy") == ""
    assert git(repo, "worktree", "list").count("\n") == 1


def test_promote_complete_rollback(clone, registry):
    head = git(clone, "rev-parse", "HEAD").strip()
    before = (clone / FILE).read_text()
    v2 = registry.get_model_version(MODEL, "2")
    destination = promote_lib.artifacts_destination(clone, ENV)     # s3://<staging's bucket>/mlflow
    assert destination.startswith("s3://") and destination.endswith("/mlflow")
    uri = f"{destination}/{v2.source.removeprefix('mlflow-artifacts:/')}"

    proc = promote(clone, registry, "--weight", "30")
    assert proc.returncode == 0, proc.stderr
    untouched(clone, head)
    branch = "promote/sensor-anomaly-v2"
    changed = git(clone, "diff", "--name-only", head, branch).split()
    served = [Path(f) for f in changed if f.startswith("deploy/staging/") and f.endswith("/model-sensor-anomaly.yaml")]
    assert FILE.as_posix() in changed and served
    text = at(clone, branch, FILE)
    assert yaml.safe_load(text)["canary"] == {"uri": uri, "weight": 30, "version": "2"}
    # Only the canary line is new: the schema comment, the uri's comment, every other line kept.
    assert text.splitlines()[:-1] == before.splitlines()
    assert text.splitlines()[-1].endswith("# MLflow version 2")
    rendered = at(clone, branch, served[0])
    assert uri in rendered and "sensor-anomaly-canary" in rendered
    assert '"version": "2"' in rendered     # the canary's MLServer answers model_version 2, not "model"
    assert "roc_auc" in git(clone, "log", "-1", "--format=%B", branch)
    # The pull request's text: the gate's summary and the field-level diff of deploy/.
    assert "edgeai validate --env staging" in proc.stdout and "sensor-anomaly-canary" in proc.stdout
    assert "model-sensor-anomaly" in proc.stdout

    # The promotion merged: complete makes it stable, rollback removes it (each on its own branch).
    git(clone, "merge", "--quiet", "--ff-only", branch)
    merged = git(clone, "rev-parse", "HEAD").strip()
    proc = promote(clone, registry, "--complete")
    assert proc.returncode == 0, proc.stderr
    untouched(clone, merged)
    done = yaml.safe_load(at(clone, "promote/sensor-anomaly-v2-complete", FILE))
    assert done["uri"] == uri and done["version"] == "2" and "canary" not in done and done["retrain"]["margin"] == 0.02
    # The drift reference is v2's training distribution as the registry recorded it, in shares per bin,
    # and every staging site's Prometheus gets it.
    recorded = json.loads(v2.tags["edgeai.predictions"])
    assert done["drift"]["reference"] == [round(c / sum(recorded["counts"]), 4) for c in recorded["counts"]]
    assert "drift reference: the training distribution of MLflow version 2" in proc.stdout
    monitoring = [f for f in git(clone, "diff", "--name-only", merged, "promote/sensor-anomaly-v2-complete").split()
                  if f.endswith("/monitoring.yaml")]
    assert monitoring and all("model-drift.rules.yaml" in at(clone, "promote/sensor-anomaly-v2-complete", Path(f))
                              for f in monitoring)

    proc = promote(clone, registry, "--rollback")
    assert proc.returncode == 0, proc.stderr
    untouched(clone, merged)
    assert at(clone, "promote/sensor-anomaly-v2-rollback", FILE) == before
    assert "sensor-anomaly-canary" not in at(clone, "promote/sensor-anomaly-v2-rollback", served[0])


@pytest.mark.parametrize(("args", "message"), [
    (("--env", ENV, "no-such-model"), "no model 'no-such-model' in environment 'staging'"),
    (("--env", ENV, MODEL, "--version", "9"), "version 9 of 'sensor-anomaly' is not in the registry"),
    (("--env", ENV, MODEL, "--version", "1"), "was not registered as better"),
    (("--env", ENV, MODEL, "--weight", "0"), "a canary takes 1 to 100 percent"),
    (("--env", ENV, MODEL, "--complete"), "has no canary in staging"),
    (("--env", "nowhere", MODEL), "no environment 'nowhere'"),
])
def test_bad_input_writes_nothing(clone, registry, args, message):
    head = git(clone, "rev-parse", "HEAD").strip()
    proc = edgeai(clone, registry.tracking_uri, "models", "promote", *args)
    assert proc.returncode == 2 and message in proc.stderr and "nothing written" in proc.stderr
    untouched(clone, head)
    assert git(clone, "branch", "--list", "promote/*") == ""


def test_completing_a_canary_the_registry_cannot_answer_for_writes_nothing(clone, registry):
    """The drift reference comes from the registry: a canary version it does not know (or a registry
    that does not answer) stops the completion rather than writing a model file without one."""
    canary = "canary: {uri: s3://edgeai-models/sensor-anomaly/v9, weight: 10}   # MLflow version 9\n"
    (clone / FILE).write_text((clone / FILE).read_text() + canary)
    git(clone, "commit", "--quiet", "-am", "a canary of version 9")
    head = git(clone, "rev-parse", "HEAD").strip()
    proc = promote(clone, registry, "--complete")
    assert proc.returncode == 2, proc.stderr
    assert "version 9 of 'sensor-anomaly' (the canary) cannot be read from the registry" in proc.stderr
    untouched(clone, head)
    assert git(clone, "branch", "--list", "promote/*") == ""


def test_dirty_environment_is_refused(clone, registry):
    (clone / FILE).write_text((clone / FILE).read_text() + "replicas: 2\n")
    proc = promote(clone, registry)
    assert proc.returncode == 2 and "uncommitted changes under environments/staging" in proc.stderr
    assert git(clone, "branch", "--list", "promote/*") == ""
    assert (clone / FILE).read_text().endswith("replicas: 2\n")    # the user's edit stays


def test_no_tracking_server_is_bad_input(clone):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run([sys.executable, "-m", "edgeai.cli", "models", "promote", "--env", ENV, MODEL],
                          cwd=clone, capture_output=True, text=True, env={**env, "EDGEAI_ROOT": str(clone)})
    assert proc.returncode == 2 and "MLFLOW_TRACKING_URI" in proc.stderr
