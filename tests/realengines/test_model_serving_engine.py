"""charts/model-serving on the real inference servers.

MLServer (PyPI, the chart's 1.7.1, in its own venv): the local site's `sensor-anomaly` Deployment
as rendered (settings.json and model-settings.json mounted where the pod mounts them, the image's
`mlserver start $MLSERVER_MODELS_DIR`, parallel_workers as rendered) loads a scikit-learn model
trained here and answers the V2 protocol over REST and gRPC, with the version the rendered
settings give it, and serves its metrics.

Triton (NGC image only; no registry here has tritonserver): for the 3-node prod site's ONNX model
the test builds the model repository the rendered Deployment points Triton at (--model-repository
=/mnt/models, the artifact fetched into /mnt/models/<model>, no config.pbtxt since
--strict-model-config=false) and runs it with onnxruntime (the library Triton's onnxruntime
backend wraps). NOT exercised: tritonserver itself (its V2 endpoints, config auto-completion,
the metrics port), GPU execution, the pytorch and tensorflow backends.

Adapted: /mnt/models and /tmp -> temporary directories; ports 8080/8081/8082 -> free ports;
host 0.0.0.0 -> 127.0.0.1. tests/charts/test_model_serving.py has an MLServer REST test with
chart-default values that forces parallel_workers to 0 (its uvloop could not start workers);
this one runs the rendered settings unchanged (scripts/install-engines.sh pins uvloop) and adds gRPC."""

from __future__ import annotations

import json

from tests.realengines import engines, models
from tests.realengines.engines import PROD_3_NODES

NORMAL = [20.0, 18.0, 22.0, 1.2, 21.0]      # [avg, min, max, stddev, last] of a quiet window
SPIKE = [35.0, 18.0, 180.0, 40.0, 180.0]     # a window whose maximum is far out


def test_mlserver_serves_the_rendered_sensor_anomaly_over_rest_and_grpc(local_site, tmp_path) -> None:
    engines.require("mlserver")
    objects = local_site["model-sensor-anomaly"]
    with engines.processes() as procs:
        server, ports = engines.start_mlserver(objects, "sensor-anomaly", tmp_path, procs, models.sensor_anomaly)
        base = f"http://127.0.0.1:{ports['http_port']}"
        for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/sensor-anomaly/ready"):
            assert engines.http(base + path)[0] == 200, path
        status, meta = engines.http(f"{base}/v2/models/sensor-anomaly")
        assert status == 200 and meta["name"] == "sensor-anomaly"
        # The version the rendered model-settings.json gives (the artifact URI's last segment) is served.
        assert engines.http(f"{base}/v2/models/sensor-anomaly/versions/v3/ready")[0] == 200

        # What the Siddhi app sends: one row of the five window features, input "input-0".
        request = {"inputs": [{"name": "input-0", "shape": [2, 5], "datatype": "FP64", "data": NORMAL + SPIKE}]}
        status, answer = engines.http(f"{base}/v2/models/sensor-anomaly/infer", request)
        assert status == 200, answer
        assert (answer["model_name"], answer["model_version"]) == ("sensor-anomaly", "v3")
        assert answer["outputs"][0]["data"] == [0.0, 1.0]

        code, reply = models.grpc_infer(f"127.0.0.1:{ports['grpc_port']}", "sensor-anomaly", None, [NORMAL, SPIKE])
        assert code == 0, reply
        assert reply == {"model": "sensor-anomaly", "version": "v3", "data": [0.0, 1.0]}

        status, metrics = engines.http(f"http://127.0.0.1:{ports['metrics_port']}/metrics")
        assert status == 200 and 'model_infer_request_success_total{model="sensor-anomaly"' in metrics
        # The rendered settings moved MLServer's own files under /tmp (read-only root filesystem).
        assert any((tmp_path / "tmp" / "mlserver").iterdir())
        assert server.alive()


def test_triton_model_repository_of_the_rendered_onnx_model_runs_on_onnxruntime(tmp_path) -> None:
    engines.require("mlserver")  # onnxruntime and skl2onnx live in the same cached venv
    objects = engines.rendered_site(*PROD_3_NODES)["model-defect-vision"]
    (dep,) = engines.find(objects, "Deployment", "defect-vision")
    spec = dep["spec"]["template"]["spec"]
    triton = spec["containers"][0]
    assert triton["command"] == ["tritonserver"]
    args = triton["args"]
    assert "--model-repository=/mnt/models" in args and "--strict-model-config=false" in args
    assert {"--http-port=8000", "--grpc-port=8001", "--metrics-port=8002"} <= set(args)
    fetch = spec["initContainers"][0]["args"]
    assert fetch[:3] == ["copy", "s3:edgeai-models/defect-vision/v7", "/mnt/models/defect-vision"]
    (svc,) = engines.find(objects, "Service", "defect-vision")
    assert {p["port"]: p["targetPort"] for p in svc["spec"]["ports"]} == {8080: "http", 8081: "grpc", 8082: "metrics"}

    # The artifact folder (what rclone copies into /mnt/models/defect-vision): a Triton model
    # directory with a numeric version folder and no config.pbtxt.
    repository = tmp_path / "mnt" / "models"
    version_dir = repository / "defect-vision" / "1"
    version_dir.mkdir(parents=True)
    expected = json.loads(models.defect_vision_onnx(version_dir / "model.onnx"))
    assert not (repository / "defect-vision" / "config.pbtxt").exists()
    ran = json.loads(models.run_onnx_repository(repository, "defect-vision", json.dumps(expected["inputs"])))
    assert ran["version"] == 1
    assert ran["labels"] == expected["labels"]
