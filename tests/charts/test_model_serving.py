"""charts/model-serving rendered by the real helm binary."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from edgeai import helm, paths, tools
from tests.charts.conftest import (
    assert_requests_and_limits,
    assert_restricted,
    containers,
    find,
    free_port,
    render,
)

CHART = "model-serving"
SCHEMA = json.loads((paths.CHARTS / CHART / "values.schema.json").read_text())

MLSERVER = {
    "sklearn": "mlserver_sklearn.SKLearnModel",
    "xgboost": "mlserver_xgboost.XGBoostModel",
    "lightgbm": "mlserver_lightgbm.LightGBMModel",
    "mlflow": "mlserver_mlflow.MLflowRuntime",
    "huggingface": "mlserver_huggingface.HuggingFaceRuntime",
}
TRITON = ["onnx", "pytorch", "tensorflow"]
SERVER_PORTS = {"mlserver": (8080, 8081, 8082), "triton": (8000, 8001, 8002)}


def values(**model: Any) -> dict[str, Any]:
    """Values as the composition passes them, for model `iris` unless overridden."""
    base = {
        "name": "iris",
        "framework": "sklearn",
        "uri": "s3://models/iris/v3",
        "replicas": 1,
        "gpu": 0,
        "canary": None,
    }
    base.update(model)
    return {
        "global": {"environment": "test", "site": "site-1", "region": "eu-central", "nodeCount": 1},
        "model": base,
        "networkPolicy": {
            "enabled": True,
            "ingressNamespaces": ["edgeai-gateway", "edgeai-siddhi", "edgeai-monitoring"],
        },
    }


def render_model(vals: dict[str, Any]) -> list[dict[str, Any]]:
    return render(CHART, vals, release=f"model-{vals['model']['name']}", namespace="edgeai-models")


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, (
        f"expected one {kind}/{name}, got {[o['metadata']['name'] for o in find(objects, kind)]}"
    )
    return found[0]


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def server_container(deployment: dict[str, Any]) -> dict[str, Any]:
    return pod(deployment)["containers"][0]


# --- framework → server ------------------------------------------------------------------------


def test_schema_framework_enum_is_exactly_the_eight_frameworks():
    enum = SCHEMA["properties"]["model"]["properties"]["framework"]["enum"]
    assert sorted(enum) == sorted([*MLSERVER, *TRITON])


@pytest.mark.parametrize("framework,implementation", sorted(MLSERVER.items()))
def test_mlserver_frameworks(framework, implementation):
    objects = render_model(values(framework=framework))
    dep = one(objects, "Deployment", "iris")
    server = server_container(dep)
    assert server["name"] == "mlserver"
    assert server["image"] == "ghcr.io/edgeai-platform/mlserver:1.7.1"
    assert [p["containerPort"] for p in server["ports"]] == list(SERVER_PORTS["mlserver"])
    settings = json.loads(one(objects, "ConfigMap", "iris-settings")["data"]["model-settings.json"])
    assert settings["implementation"] == implementation
    assert dep["spec"]["template"]["metadata"]["labels"]["edgeai.io/framework"] == framework


@pytest.mark.parametrize("framework", TRITON)
def test_triton_frameworks(framework):
    objects = render_model(values(framework=framework))
    dep = one(objects, "Deployment", "iris")
    server = server_container(dep)
    assert server["name"] == "triton"
    repo, tag = server["image"].rsplit(":", 1)
    assert repo == "nvcr.io/nvidia/tritonserver"
    assert tag.endswith("-py3") and tag[:5].replace(".", "").isdigit()
    assert server["command"] == ["tritonserver"]
    assert "--model-repository=/mnt/models" in server["args"]
    assert "--strict-model-config=false" in server["args"]
    http, grpc, metrics = SERVER_PORTS["triton"]
    assert {f"--http-port={http}", f"--grpc-port={grpc}", f"--metrics-port={metrics}"} <= set(server["args"])
    assert [p["containerPort"] for p in server["ports"]] == [http, grpc, metrics]
    assert not find(objects, "ConfigMap"), "Triton needs no MLServer settings"
    # Triton's image runs as root by default: the chart runs it as its triton-server user.
    assert pod(dep)["securityContext"]["runAsUser"] == 1000


def test_unknown_framework_is_rejected_by_the_schema():
    with pytest.raises(helm.HelmError, match="framework"):
        render_model(values(framework="caffe"))


# --- names, services, canary ---------------------------------------------------------------------


def test_stable_objects_are_named_after_the_model_and_no_canary_by_default():
    objects = render_model(values())
    assert [d["metadata"]["name"] for d in find(objects, "Deployment")] == ["iris"]
    assert [s["metadata"]["name"] for s in find(objects, "Service")] == ["iris"]
    assert not [o for o in objects if "canary" in o["metadata"]["name"]]
    assert all(o["metadata"]["labels"]["app.kubernetes.io/component"] != "canary" for o in objects)


def test_canary_renders_its_own_deployment_service_hpa_and_settings():
    objects = render_model(values(canary={"uri": "s3://models/iris/v4", "weight": 10}))
    stable, canary = one(objects, "Deployment", "iris"), one(objects, "Deployment", "iris-canary")
    one(objects, "Service", "iris-canary")
    one(objects, "HorizontalPodAutoscaler", "iris-canary")
    assert "s3:models/iris/v3" in pod(stable)["initContainers"][0]["args"]
    assert "s3:models/iris/v4" in pod(canary)["initContainers"][0]["args"]
    stable_settings = json.loads(one(objects, "ConfigMap", "iris-settings")["data"]["model-settings.json"])
    canary_settings = json.loads(
        one(objects, "ConfigMap", "iris-canary-settings")["data"]["model-settings.json"]
    )
    # Same V2 model name behind both Services, so the gateway can split /v2/models/iris/...
    assert stable_settings["name"] == canary_settings["name"] == "iris"
    assert (stable_settings["parameters"]["version"], canary_settings["parameters"]["version"]) == (
        "v3",
        "v4",
    )
    # The two Deployments select disjoint pods.
    sel = [d["spec"]["selector"]["matchLabels"] for d in (stable, canary)]
    assert sel[0] != sel[1]
    assert one(objects, "Service", "iris-canary")["spec"]["selector"] == sel[1]


def test_a_declared_version_is_what_each_track_reports():
    """An MLflow artifact URI ends in /model for every version: the declared versions (the registry's
    numbers, written by edgeai models promote) tell the tracks apart in the V2 answers."""
    mlflow = "s3://landing/mlflow/1/{}/artifacts/model"
    objects = render_model(values(uri=mlflow.format("aaa"), version="3",
                                  canary={"uri": mlflow.format("bbb"), "weight": 10, "version": "4"}))
    versions = [json.loads(one(objects, "ConfigMap", name)["data"]["model-settings.json"])["parameters"]["version"]
                for name in ("iris-settings", "iris-canary-settings")]
    assert versions == ["3", "4"]


@pytest.mark.parametrize("framework", ["sklearn", "onnx"])
def test_service_ports_are_normalised_onto_the_server_ports(framework):
    objects = render_model(values(framework=framework))
    svc = one(objects, "Service", "iris")
    assert svc["spec"]["type"] == "ClusterIP"
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {
        "http": 8080,
        "grpc": 8081,
        "metrics": 8082,
    }
    container_ports = {
        p["name"]: p["containerPort"] for p in server_container(one(objects, "Deployment", "iris"))["ports"]
    }
    for port in svc["spec"]["ports"]:
        assert port["targetPort"] in container_ports
    server = "mlserver" if framework == "sklearn" else "triton"
    assert tuple(container_ports[n] for n in ("http", "grpc", "metrics")) == SERVER_PORTS[server]


# --- artifacts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri,expected",
    [
        ("s3://models/iris/v3", ["copy", "s3:models/iris/v3", "/mnt/models/iris"]),
        ("gs://bucket/models/iris/3", ["copy", "gs:bucket/models/iris/3", "/mnt/models/iris"]),
        (
            "https://models.example.com/iris/v3/",
            ["copy", "--http-url=https://models.example.com/iris/v3/", ":http:", "/mnt/models/iris"],
        ),
    ],
)
def test_init_container_copies_the_artifact_with_rclone(uri, expected):
    dep = one(render_model(values(uri=uri)), "Deployment", "iris")
    init = pod(dep)["initContainers"][0]
    assert init["image"] == "ghcr.io/edgeai-platform/rclone:1.60.1"
    assert init["args"][: len(expected)] == expected
    assert "--config=/etc/rclone/rclone.conf" in init["args"]
    secret = next(v for v in pod(dep)["volumes"] if v["name"] == "storage-config")["secret"]
    assert secret["secretName"] == "model-storage"
    assert secret["items"] == [{"key": "rclone.conf", "path": "rclone.conf"}]
    assert {m["mountPath"] for m in init["volumeMounts"]} >= {"/mnt/models", "/etc/rclone"}


@pytest.mark.parametrize("mirror,image", [
    (None, "ghcr.io/edgeai-platform/models/iris:v7"),
    ("localhost:5001", "localhost:5001/edgeai-platform/models/iris:v7"),   # follows the mirror like any image
])
def test_an_oci_artifact_is_an_image_the_init_container_copies_from(mirror, image):
    vals = values(uri="oci://ghcr.io/edgeai-platform/models/iris:v7")
    if mirror:
        vals["global"] = {**vals.get("global", {}), "imageRegistry": mirror}
    dep = one(render_model(vals), "Deployment", "iris")
    init = pod(dep)["initContainers"][0]
    assert init["image"] == image
    assert init["command"] == ["cp", "-R", "/model/.", "/mnt/models/iris"]
    assert "args" not in init
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["edgeai.io/model-uri"] == "oci://ghcr.io/edgeai-platform/models/iris:v7"


@pytest.mark.parametrize("uri", ["file:///models/iris", "pvc://models/iris", "s3:/models", "models/iris"])
def test_unsupported_artifact_uris_are_rejected(uri):
    with pytest.raises(helm.HelmError):
        render_model(values(uri=uri))


def test_model_settings_and_settings_json():
    objects = render_model(
        values(name="sensor-anomaly", framework="xgboost", uri="gs://models/sensor-anomaly/v7")
    )
    cm = one(objects, "ConfigMap", "sensor-anomaly-settings")
    assert json.loads(cm["data"]["model-settings.json"]) == {
        "name": "sensor-anomaly",
        "implementation": "mlserver_xgboost.XGBoostModel",
        "parameters": {"uri": "/mnt/models/sensor-anomaly", "version": "v7"},
    }
    settings = json.loads(cm["data"]["settings.json"])
    assert (settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == SERVER_PORTS[
        "mlserver"
    ]
    assert settings["metrics_endpoint"] == "/metrics"
    # MLServer writes metrics/envs under its working dir by default; the root FS is read-only.
    assert settings["metrics_dir"].startswith("/tmp/") and settings["environments_dir"].startswith("/tmp/")
    dep = one(objects, "Deployment", "sensor-anomaly")
    mounts = {m["mountPath"]: m for m in server_container(dep)["volumeMounts"]}
    assert mounts["/mnt/models/settings.json"]["subPath"] == "settings.json"
    assert mounts["/mnt/models/sensor-anomaly/model-settings.json"]["subPath"] == "model-settings.json"
    env = {e["name"]: e["value"] for e in server_container(dep)["env"]}
    assert env["MLSERVER_MODELS_DIR"] == "/mnt/models"


def test_config_checksum_rolls_pods_when_settings_change():
    def checksum(vals):
        dep = one(render_model(vals), "Deployment", "iris")
        return dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum(values()) == checksum(values())
    assert checksum(values()) != checksum(values(uri="s3://models/iris/v4"))


# --- GPU -------------------------------------------------------------------------------------------


def test_gpu_model_gets_gpu_resources_node_selector_toleration_and_guaranteed_cpu():
    vals = values(framework="onnx", gpu=2)
    vals["resources"] = {
        "requests": {"cpu": "500m", "memory": "2Gi"},
        "limits": {"cpu": "1500m", "memory": "6Gi"},
    }
    vals["nodeSelector"] = {"edgeai.io/pool": "inference"}
    dep = one(render_model(vals), "Deployment", "iris")
    spec = pod(dep)
    res = server_container(dep)["resources"]
    assert res["limits"]["nvidia.com/gpu"] == 2
    assert res["requests"] == res["limits"], "Guaranteed QoS: requests equal limits"
    assert res["limits"]["cpu"] == 2, "whole cores for the static CPU manager (1500m rounded up)"
    assert res["limits"]["memory"] == "6Gi"
    for init in spec["initContainers"]:
        assert init["resources"]["requests"] == init["resources"]["limits"]
    assert spec["nodeSelector"] == {"edgeai.io/pool": "inference", "nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert "--allow-gpu-metrics=true" in server_container(dep)["args"]
    # No surge pod: it would need a GPU a one-GPU site does not have.
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}


def test_cpu_model_has_no_gpu_settings():
    dep = one(render_model(values()), "Deployment", "iris")
    spec = pod(dep)
    res = server_container(dep)["resources"]
    assert "nvidia.com/gpu" not in res["limits"] and "nvidia.com/gpu" not in res["requests"]
    assert res["requests"] != res["limits"]
    assert "nvidia.com/gpu.present" not in spec.get("nodeSelector", {})
    assert not any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", []))


# --- scaling, disruption ---------------------------------------------------------------------------


def test_hpa_minimum_is_replicas_and_deployment_leaves_replicas_to_it():
    objects = render_model(values(replicas=3, canary={"uri": "s3://models/iris/v4", "weight": 50}))
    for name in ("iris", "iris-canary"):
        hpa = one(objects, "HorizontalPodAutoscaler", name)
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["spec"]["minReplicas"] == 3
        assert hpa["spec"]["maxReplicas"] == 6
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        assert "replicas" not in one(objects, "Deployment", name)["spec"]


def test_hpa_max_replicas_override_and_lower_bound():
    vals = values(replicas=2)
    vals["autoscaling"] = {"maxReplicas": 5}
    assert one(render_model(vals), "HorizontalPodAutoscaler", "iris")["spec"]["maxReplicas"] == 5
    vals["autoscaling"] = {"maxReplicas": 1}
    with pytest.raises(helm.HelmError, match="maxReplicas"):
        render_model(vals)


def test_without_hpa_the_deployment_sets_replicas():
    vals = values(replicas=2)
    vals["autoscaling"] = {"enabled": False}
    objects = render_model(vals)
    assert not find(objects, "HorizontalPodAutoscaler")
    assert one(objects, "Deployment", "iris")["spec"]["replicas"] == 2


def test_pdb_when_replicas_can_exceed_one():
    objects = render_model(values(replicas=2))
    (pdb,) = find(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == one(objects, "Deployment", "iris")["spec"]["selector"]["matchLabels"]
    )
    fixed_single = values(replicas=1)
    fixed_single["autoscaling"] = {"enabled": False}
    assert not find(render_model(fixed_single), "PodDisruptionBudget")


# --- pod hygiene -----------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["sklearn", "tensorflow"])
def test_probes_are_v2_health_on_a_declared_port(framework):
    dep = one(render_model(values(framework=framework)), "Deployment", "iris")
    server = server_container(dep)
    declared = {p["name"] for p in server["ports"]} | {p["containerPort"] for p in server["ports"]}
    expected = {
        "livenessProbe": "/v2/health/live",
        "readinessProbe": "/v2/health/ready",
        "startupProbe": "/v2/health/live",
    }
    for probe, path in expected.items():
        assert server[probe]["httpGet"]["path"] == path
        assert server[probe]["httpGet"]["port"] in declared


@pytest.mark.parametrize("framework,gpu", [("sklearn", 0), ("pytorch", 1)])
def test_every_container_is_restricted_with_requests_and_limits(framework, gpu):
    objects = render_model(
        values(framework=framework, gpu=gpu, canary={"uri": "s3://models/iris/v4", "weight": 5})
    )
    assert_restricted(objects)
    assert_requests_and_limits(objects)
    for dep in find(objects, "Deployment"):
        spec = pod(dep)
        assert spec["automountServiceAccountToken"] is False
        every = containers(spec)
        assert len(every) == 2
        for c in every:
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), (
                f"{c['name']} has no writable /tmp"
            )
        assert spec["volumes"]


def test_prometheus_annotations_point_at_the_metrics_port():
    for framework, port in (("sklearn", "8082"), ("onnx", "8002")):
        dep = one(render_model(values(framework=framework)), "Deployment", "iris")
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert (ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]) == (
            "true",
            port,
            "/metrics",
        )


def test_network_policy_allows_the_server_ports_from_the_composition_namespaces():
    objects = render_model(values(framework="onnx", canary={"uri": "s3://models/iris/v4", "weight": 5}))
    policies = find(objects, "NetworkPolicy")
    assert len(policies) == 2
    for np in policies:
        ingress = np["spec"]["ingress"][0]
        assert [p["port"] for p in ingress["ports"]] == [8000, 8001, 8002]
        namespaces = [
            f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for f in ingress["from"]
            if "namespaceSelector" in f
        ]
        assert namespaces == ["edgeai-gateway", "edgeai-siddhi", "edgeai-monitoring"]


def test_image_mirror_replaces_every_registry():
    vals = values(framework="onnx")
    vals["global"]["imageRegistry"] = "registry.example.com/edgeai"
    dep = one(render_model(vals), "Deployment", "iris")
    assert all(c["image"].startswith("registry.example.com/edgeai/") for c in containers(pod(dep)))


# --- schema ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v.update(replica=2),
        lambda v: v["model"].update(gpus=1),
        lambda v: v["model"].update(canary={"uri": "s3://m/iris/v4", "weight": 101}),
        lambda v: v["model"].update(canary={"uri": "s3://m/iris/v4", "weight": -1}),
        lambda v: v["model"].update(canary={"uri": "s3://m/iris/v4", "weight": 10, "replicas": 1}),
        lambda v: v["model"].update(name="Iris"),
        lambda v: v.update(images={"mlserver": {"repository": "seldonio/mlserver", "tag": "latest"}}),
    ],
    ids=[
        "unknown-top-key",
        "unknown-model-key",
        "weight-over-100",
        "negative-weight",
        "unknown-canary-key",
        "bad-name",
        "latest-tag",
    ],
)
def test_schema_rejects_bad_values(mutate):
    vals = copy.deepcopy(values())
    mutate(vals)
    with pytest.raises(helm.HelmError):
        render_model(vals)


def test_defaults_render_and_lint_strict():
    assert find(render(CHART), "Deployment")
    helm.lint(paths.CHARTS / CHART)
    helm.lint(
        paths.CHARTS / CHART, values(framework="onnx", gpu=1, canary={"uri": "gs://m/iris/4", "weight": 20})
    )


# --- Seldon Core 2 mode ----------------------------------------------------------------------------


def test_seldon_core2_mode_renders_model_crs_instead_of_deployments():
    vals = values(framework="lightgbm", replicas=2, canary={"uri": "s3://models/iris/v4", "weight": 25})
    vals["seldonCore2"] = {"enabled": True, "memory": "500Mi"}
    objects = render_model(vals)
    assert {o["kind"] for o in objects} == {"Model", "Experiment"}
    stable, canary = one(objects, "Model", "iris"), one(objects, "Model", "iris-canary")
    assert stable["apiVersion"] == "mlops.seldon.io/v1alpha1"
    assert stable["spec"]["storageUri"] == "s3://models/iris/v3"
    assert canary["spec"]["storageUri"] == "s3://models/iris/v4"
    assert stable["spec"]["requirements"] == ["lightgbm"]
    assert (stable["spec"]["replicas"], stable["spec"]["minReplicas"], stable["spec"]["maxReplicas"]) == (
        2,
        2,
        4,
    )
    experiment = one(objects, "Experiment", "iris-canary")
    assert experiment["spec"]["default"] == "iris"
    assert experiment["spec"]["candidates"] == [
        {"name": "iris", "weight": 75},
        {"name": "iris-canary", "weight": 25},
    ]


# --- the real MLServer -----------------------------------------------------------------------------

# MLServer's own venv from scripts/install-engines.sh, else one on PATH (or $EDGEAI_MLSERVER).
_CACHED_MLSERVER = (paths.CACHE / "engines" / f"mlserver-{tools.pinned_versions()['MLSERVER_VERSION']}"
                    / "venv" / "bin" / "mlserver")
MLSERVER_BIN = (os.environ.get("EDGEAI_MLSERVER") or (str(_CACHED_MLSERVER) if _CACHED_MLSERVER.is_file() else None)
                or shutil.which("mlserver"))


@pytest.mark.skipif(
    MLSERVER_BIN is None,
    reason="MLServer is not installed (pip install mlserver mlserver-sklearn, or set EDGEAI_MLSERVER)",
)
def test_real_mlserver_serves_the_rendered_settings(tmp_path):
    """The chart's settings.json and model-settings.json, laid out as the pod has them
    (/mnt/models moved under tmp_path, ports moved to free ones), served by a real MLServer."""
    objects = render_model(values(uri="s3://models/iris/v3"))
    data = one(objects, "ConfigMap", "iris-settings")["data"]
    models = tmp_path / "mnt" / "models"
    (models / "iris").mkdir(parents=True)
    settings = json.loads(data["settings.json"])
    ports = {key: free_port() for key in ("http_port", "grpc_port", "metrics_port")}
    settings.update(ports, metrics_dir=str(tmp_path / "metrics"), environments_dir=str(tmp_path / "envs"))
    # Inference in-process: a PyPI install may pair MLServer with a uvloop its worker processes
    # cannot start under (the official image pins a working one).
    settings["parallel_workers"] = 0
    (models / "settings.json").write_text(json.dumps(settings))
    model_settings = json.loads(data["model-settings.json"])
    model_settings["parameters"]["uri"] = str(models / "iris")
    (models / "iris" / "model-settings.json").write_text(json.dumps(model_settings))
    python = Path(MLSERVER_BIN).parent / "python"
    subprocess.run(
        [
            str(python),
            "-c",
            "import joblib, sys; from sklearn.linear_model import LogisticRegression;"
            "X = [[0, 0], [1, 1], [0, 1], [1, 0]] * 5; y = [0, 1, 0, 1] * 5;"
            "joblib.dump(LogisticRegression().fit(X, y), sys.argv[1])",
            str(models / "iris" / "model.joblib"),
        ],
        check=True,
        capture_output=True,
    )
    log = (tmp_path / "mlserver.log").open("w")
    proc = subprocess.Popen(
        [MLSERVER_BIN, "start", str(models)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{ports['http_port']}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/v2/models/iris/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "mlserver.log"
            ).read_text()
            time.sleep(0.5)
        for path in ("/v2/health/live", "/v2/health/ready"):
            with urllib.request.urlopen(base + path, timeout=5) as resp:
                assert resp.status == 200
        request = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [1, 1, 0, 0]}]}
        req = urllib.request.Request(
            f"{base}/v2/models/iris/infer",
            data=json.dumps(request).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        assert (answer["model_name"], answer["model_version"]) == ("iris", "v3")
        assert answer["outputs"][0]["data"] == [1, 0]
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['metrics_port']}/metrics", timeout=5) as resp:
            assert 'model_infer_request_success_total{model="iris"' in resp.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
