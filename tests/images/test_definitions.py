"""The image definitions of images/ and the references the charts render (no container engine needed)."""

from __future__ import annotations

import tomllib

import pytest

from edgeai import access, paths, tools
from edgeai.images import definitions
from edgeai.images.definitions import DefinitionError, definition_for, split_ref
from edgeai.images.needed import pod_images


def test_every_definition_loads_with_its_pins_resolved():
    defs = definitions.all_definitions()
    assert {"kafka", "redis", "siddhi-runner", "mlserver", "nginx", "prometheus", "registry",
            "model-sensor-anomaly"} <= set(defs)
    pins = tools.pinned_versions()
    assert defs["kafka"].tag == pins["KAFKA_VERSION"]
    assert defs["mlserver"].pip[0] == f"mlserver=={pins['MLSERVER_VERSION']}"
    for d in defs.values():
        assert "${" not in repr(d), d.name
        assert (d.directory / "Dockerfile").is_file(), d.name
        assert d.ref() == f"ghcr.io/{d.repository}:{d.tag}"
        for stage in d.stages.values():
            assert stage in defs, f"{d.name} builds on {stage}, which has no definition"


def test_the_mlflow_server_image_speaks_the_mlflow_of_the_retrain_job():
    """The registry (images/mlflow) and the clients that register and promote versions (the retrain
    extra) pin the same MLflow and boto3: one bump, both sides."""
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())
    retrain = dict(r.split("==") for r in project["project"]["optional-dependencies"]["retrain"])
    server = dict(r.split("==") for r in definitions.load("mlflow").pip)
    assert {k: server[k] for k in ("mlflow", "boto3")} == {k: retrain[k] for k in ("mlflow", "boto3")}


def test_an_image_of_this_repository_s_package_changes_with_its_sources(tmp_path, monkeypatch):
    retrain = definitions.load("retrain")
    assert retrain.project == ("retrain",) and retrain.project_requirement == "edgeai[retrain]"
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    assert retrain.tag == project["version"]
    assert definitions.load("mlflow").project is None and definitions.load("mlflow").project_requirement is None
    source = tmp_path / "src" / "edgeai" / "x.py"
    source.parent.mkdir(parents=True)
    source.write_text("a = 1\n")
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    monkeypatch.setattr(definitions, "project_sources", lambda: [source])
    before = retrain.sources_digest()
    source.write_text("a = 2\n")
    assert retrain.sources_digest() != before


def test_a_definition_with_an_unknown_key_or_pin_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(definitions, "IMAGES", tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "image.yaml").write_text("repository: a/x\ntag: '1'\ndebian: []\npackages: [curl]\n")
    with pytest.raises(DefinitionError, match="unknown: packages"):
        definitions.load("x")
    (tmp_path / "x" / "image.yaml").write_text("repository: a/x\ntag: ${NO_SUCH_PIN}\ndebian: []\n")
    with pytest.raises(DefinitionError, match=r"\$\{NO_SUCH_PIN\} is not a pin"):
        definitions.load("x")


@pytest.mark.parametrize("ref,parts", [
    ("ghcr.io/edgeai-platform/kafka:4.1.1", ("ghcr.io", "edgeai-platform/kafka", "4.1.1")),
    ("localhost:5001/edgeai-platform/models/sensor-anomaly:v3",
     ("localhost:5001", "edgeai-platform/models/sensor-anomaly", "v3")),
    ("redis", ("", "redis", "latest")),
    ("edgeai-platform/redis@sha256:" + "a" * 64, ("", "edgeai-platform/redis", "sha256:" + "a" * 64)),
])
def test_references_split_into_registry_repository_and_tag(ref, parts):
    assert split_ref(ref) == parts


def test_a_reference_at_any_registry_finds_the_definition_that_builds_it():
    assert definition_for("localhost:5001/edgeai-platform/kafka:4.1.1").name == "kafka"
    assert definition_for("mirror.example.com/edgeai-platform/kafka:4.1.1").name == "kafka"
    assert definition_for("ghcr.io/edgeai-platform/kafka:0.0.1") is None       # another version
    assert definition_for("docker.io/grafana/grafana:12.2.1") is None          # not buildable here


def test_pod_images_reads_containers_init_containers_and_cronjobs():
    pod = {"initContainers": [{"image": "a:1"}], "containers": [{"image": "b:2"}]}
    objects = [{"kind": "Deployment", "spec": {"template": {"spec": pod}}},
               {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                   "containers": [{"image": "c:3"}]}}}}}},
               {"kind": "Service", "spec": {"ports": []}}]
    assert pod_images(objects) == {"a:1", "b:2", "c:3"}


def test_node_ports_are_what_the_host_can_reach():
    def svc(name, kind, ports):
        return {"kind": "Service", "metadata": {"name": name, "namespace": "ns"},
                "spec": {"type": kind, "ports": ports}}
    objects = [svc("gateway-external", "NodePort", [{"name": "https", "port": 8443, "nodePort": 30080},
                                                    {"name": "grpcs", "port": 8444, "nodePort": 30081}]),
               svc("ingest-mqtt", "NodePort", [{"name": "mqtts", "port": 8883, "nodePort": 30883}]),
               svc("picked", "NodePort", [{"name": "http", "port": 80}]),           # no fixed port
               svc("gateway", "ClusterIP", [{"name": "http", "port": 8080}])]
    exposed = access.node_ports(objects)
    assert [(e.service, e.port, e.node_port) for e in exposed] == [("gateway-external", "https", 30080),
                                                                     ("gateway-external", "grpcs", 30081),
                                                                     ("ingest-mqtt", "mqtts", 30883)]
    assert [e.url for e in exposed] == ["https://127.0.0.1:30080", "127.0.0.1:30081", "mqtts://127.0.0.1:30883"]
    text = access.summary(exposed, "m", "/state/site-secrets.json")
    assert "https://127.0.0.1:30080/v2/models/m/infer" in text and "/state/site-secrets.json" in text
    assert "--cacert /state/gateway-tls/ca.crt" in text   # the cluster's own CA (edgeai.gateway_tls)
