"""A real MLflow tracking server + model registry on 127.0.0.1 for the session (sqlite backend, artifacts
proxied to a folder, as the training stack runs it with Postgres and the object store), and the shipped
sensor-anomaly model trained by the script its image runs."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from edgeai import paths
from edgeai.ports import free_port

pytest.importorskip("mlflow", reason="the retrain extra: pip install -e '.[retrain]' (scripts/setup.sh does)")

MLFLOW = Path(sys.executable).parent / "mlflow"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> str:
    home = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{home}/mlflow.db",
         "--artifacts-destination", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=home)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mlflow server did not start:\n{(home / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def shipped_model(tmp_path_factory) -> Path:
    """model.joblib as images/model-sensor-anomaly builds it (the same script)."""
    out = tmp_path_factory.mktemp("shipped") / "model.joblib"
    subprocess.run([sys.executable, str(paths.ROOT / "images" / "model-sensor-anomaly" / "train.py"), str(out)],
                   check=True)
    return out
