"""Small real models trained in the tests (in MLServer's venv, where scikit-learn and xgboost live),
written as the artifacts the model-serving chart's init container would fetch into
/mnt/models/<model>."""

from __future__ import annotations

from pathlib import Path

from edgeai import paths
from tests.realengines import engines

# The shipped sensor-anomaly model: the very training script its image (images/model-sensor-anomaly)
# runs at build time.
_SENSOR_ANOMALY = (paths.ROOT / "images" / "model-sensor-anomaly" / "train.py").read_text()

# demand-forecast: an xgboost regressor; the canary's artifact is another training run.
_DEMAND_FORECAST = r"""
import sys, numpy as np, xgboost as xgb
rng = np.random.default_rng(int(sys.argv[2]))
X = rng.uniform(0, 10, size=(200, 3)); y = X @ np.array([3.0, -1.0, 0.5]) + rng.normal(0, 0.1, 200)
xgb.XGBRegressor(n_estimators=int(sys.argv[3]), max_depth=3).fit(X, y).get_booster().save_model(sys.argv[1])
"""

# defect-vision (Triton, onnx): a classifier converted with skl2onnx into the layout Triton's
# onnxruntime backend reads (<model>/<version>/model.onnx); prints sklearn's own predictions.
_DEFECT_VISION_ONNX = r"""
import sys, json, numpy as np
from sklearn.linear_model import LogisticRegression
from skl2onnx import to_onnx
rng = np.random.default_rng(3)
X = rng.normal(size=(200, 8)).astype(np.float32); y = (X[:, 0] + X[:, 3] > 0).astype(np.int64)
clf = LogisticRegression().fit(X, y)
onx = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=15)
open(sys.argv[1], "wb").write(onx.SerializeToString())
probe = X[:16]
print(json.dumps({"inputs": probe.tolist(), "labels": clf.predict(probe).tolist()}))
"""

# What Triton's onnxruntime backend does with such a repository, done with onnxruntime itself:
# find the numeric version folders, load <version>/model.onnx, run the inputs.
_ONNX_RUN = r"""
import sys, json, pathlib, numpy as np, onnxruntime as ort
repo = pathlib.Path(sys.argv[1]); name = sys.argv[2]
versions = sorted(int(p.name) for p in (repo / name).iterdir() if p.is_dir() and p.name.isdigit())
session = ort.InferenceSession(str(repo / name / str(versions[-1]) / "model.onnx"), providers=["CPUExecutionProvider"])
inputs = np.array(json.loads(sys.argv[3]), dtype=np.float32)
outputs = session.run(None, {session.get_inputs()[0].name: inputs})
print(json.dumps({"version": versions[-1], "inputs": [i.name for i in session.get_inputs()],
                  "outputs": [o.name for o in session.get_outputs()], "labels": outputs[0].tolist()}))
"""


def sensor_anomaly(model_dir: Path) -> None:
    engines.mlserver_python(_SENSOR_ANOMALY, str(model_dir / "model.joblib"))


def demand_forecast(seed: int, trees: int):
    def write(model_dir: Path) -> None:
        engines.mlserver_python(_DEMAND_FORECAST, str(model_dir / "model.bst"), str(seed), str(trees))
    return write


def defect_vision_onnx(model_file: Path) -> str:
    return engines.mlserver_python(_DEFECT_VISION_ONNX, str(model_file))


def run_onnx_repository(repository: Path, model: str, inputs_json: str) -> str:
    return engines.mlserver_python(_ONNX_RUN, str(repository), model, inputs_json)


# A V2 gRPC ModelInfer with MLServer's own generated stubs (its venv has grpcio); prints
# "<grpc status code> <json of the first output's data or the error details>".
GRPC_INFER = r"""
import sys, json, grpc
from mlserver.grpc import dataplane_pb2 as pb, dataplane_pb2_grpc as rpc
target, model, key, ca = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
data = json.loads(sys.argv[4])
tensor = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP64", shape=[len(data), len(data[0])],
    contents=pb.InferTensorContents(fp64_contents=[v for row in data for v in row]))
metadata = [("x-model-name", model)] + ([("authorization", "Bearer " + key)] if key != "-" else [])
channel = (grpc.insecure_channel(target) if ca == "-" else
           grpc.secure_channel(target, grpc.ssl_channel_credentials(open(ca, "rb").read())))
with channel:
    stub = rpc.GRPCInferenceServiceStub(channel)
    try:
        resp = stub.ModelInfer(pb.ModelInferRequest(model_name=model, inputs=[tensor]), metadata=metadata, timeout=10)
        out = resp.outputs[0]
        c = out.contents
        values = list(c.fp64_contents) or list(c.int64_contents) or list(c.fp32_contents)
        if not values and resp.raw_output_contents:
            import numpy as np
            dtype = {"FP64": "<f8", "FP32": "<f4", "INT64": "<i8"}[out.datatype]
            values = np.frombuffer(resp.raw_output_contents[0], dtype=dtype).tolist()
        print("0", json.dumps({"model": resp.model_name, "version": resp.model_version, "data": values}))
    except grpc.RpcError as err:
        print(err.code().value[0], json.dumps(err.details()))
"""


def grpc_infer(target: str, model: str, key: str | None, rows: list[list[float]],
               ca: str | None = None) -> tuple[int, object]:
    """ModelInfer through `target`; over TLS trusting `ca` when given."""
    import json

    out = engines.mlserver_python(GRPC_INFER, target, model, key or "-", json.dumps(rows),
                                  ca or "-").strip().splitlines()[-1]
    code, _, payload = out.partition(" ")
    return int(code), json.loads(payload)
