"""What the gate relies on: helm's errors come back as helm prints them, schema violations come back
with a path, custom resources are skipped, hooks are kept in helm template's order, and results come
back in request order however many are in flight."""

from __future__ import annotations

import copy
import subprocess
import textwrap
from pathlib import Path

import pytest

from edgeai import fleet, helm, paths, tools
from edgeai.composition import compose
from edgeai.engine import Engine, EngineError, RenderRequest

KUBE = "1.34.4"


def write_chart(root: Path, templates: dict[str, str], schema: str | None = None) -> Path:
    chart = root / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 1\n")
    if schema:
        (chart / "values.schema.json").write_text(schema)
    for name, body in templates.items():
        (chart / "templates" / name).write_text(textwrap.dedent(body))
    return chart


DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {name}
    spec:
      replicas: {replicas}
      selector:
        matchLabels: {{app: {name}}}
      template:
        metadata:
          labels: {{app: {name}}}
        spec:
          containers:
            - name: app
              image: registry.example/app:1.0
              {extra}
    """


@pytest.fixture(scope="module")
def probe_chart(tmp_path_factory) -> Path:
    return write_chart(tmp_path_factory.mktemp("chart"), {
        "a-hook.yaml": """\
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: migrate
              annotations:
                helm.sh/hook: pre-install
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: m, image: registry.example/m:1}]
            """,
        "good.yaml": DEPLOYMENT.format(name="good", replicas="{{ .Values.replicas }}", extra=""),
        "bad-type.yaml": DEPLOYMENT.format(name="bad-type", replicas='"two"', extra=""),
        "bad-field.yaml": DEPLOYMENT.format(name="bad-field", replicas=1, extra="bogusField: 1"),
        "crd-kind.yaml": """\
            apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata:
              name: probe-monitor
            spec:
              endpoints: [{port: metrics}]
            ---
            # an empty document: dropped, as helm template | yaml.safe_load_all drops it
            """,
        "config.yaml": """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: probe
            data:
              namespace: {{ .Release.Namespace }}
              kube: {{ .Capabilities.KubeVersion.Version }}
            """,
    }, schema='{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}},'
              ' "additionalProperties": false}')


def by_name(result):
    return {o["metadata"]["name"]: (o, f) for o, f in zip(result.objects, result.schema, strict=True)}


def test_objects_and_order_equal_helm_template_hooks_last(engine, probe_chart: Path) -> None:
    result = engine.render(RenderRequest(probe_chart, "probe", "edgeai-probe", {"replicas": 2}, KUBE))
    assert result.error is None
    want = helm.template(probe_chart, "probe", "edgeai-probe", {"replicas": 2}, kube_version=KUBE)
    assert result.objects == want
    assert result.objects[-1]["kind"] == "Job"  # the hook, after the manifests, as helm template prints it
    config = by_name(result)["probe"][0]
    assert config["kind"] == "ConfigMap"
    assert config["data"] == {"namespace": "edgeai-probe", "kube": "v1.34.4"}


def test_schema_findings(engine, probe_chart: Path) -> None:
    result = engine.render(RenderRequest(probe_chart, "probe", "edgeai-probe", {}, KUBE))
    assert result.error is None and len(result.schema) == len(result.objects) == 6
    found = by_name(result)
    assert found["good"][1].status == "valid"
    assert found["probe"][1].status == "valid"
    assert found["migrate"][1].status == "valid"

    bad_type = found["bad-type"][1]
    assert bad_type.status == "invalid"
    assert [e.path for e in bad_type.errors] == ["/spec/replicas"]
    assert "string" in bad_type.errors[0].message and "integer" in bad_type.errors[0].message

    bad_field = found["bad-field"][1]
    assert bad_field.status == "invalid"
    assert any(e.path.startswith("/spec/template/spec/containers/0") and "bogusField" in e.message
               for e in bad_field.errors), bad_field.errors

    assert found["probe-monitor"][1].status == "skipped"
    assert not result.ok


def test_values_schema_violation_is_helms_error(engine, probe_chart: Path) -> None:
    for values in ({"replicas": 0}, {"replicas": "two"}, {"replicsa": 2}):
        result = engine.render(RenderRequest(probe_chart, "probe", "edgeai-probe", values, KUBE))
        with pytest.raises(helm.HelmError) as helm_error:
            helm.template(probe_chart, "probe", "edgeai-probe", values, kube_version=KUBE)
        assert result.objects == [] and result.error is not None
        assert result.error.startswith("Error: values don't meet the specifications of the schema(s)")
        assert str(helm_error.value).endswith(result.error)


def test_values_schema_violation_of_a_real_chart(engine) -> None:
    [env] = fleet.load_fleet(["local"])
    site = next(iter(env.sites.values()))
    release = compose(env, site)[0]
    helm.build_dependencies(paths.ROOT / release.chart)
    values = copy.deepcopy(release.values)
    values["notAValueOfThisChart"] = True
    result = engine.render(RenderRequest(paths.ROOT / release.chart, release.name, release.namespace,
                                         values, env.kubernetes_version))
    with pytest.raises(helm.HelmError) as helm_error:
        helm.template(paths.ROOT / release.chart, release.name, release.namespace, values,
                      kube_version=env.kubernetes_version)
    assert result.error is not None and "notAValueOfThisChart" in result.error
    assert str(helm_error.value).endswith(result.error)


def test_template_error_is_helms_error(engine, tmp_path: Path) -> None:
    chart = write_chart(tmp_path, {"x.yaml": "{{ required \"set .Values.name\" .Values.name }}\n"})
    result = engine.render(RenderRequest(chart, "x", "default", {}, KUBE))
    with pytest.raises(helm.HelmError) as helm_error:
        helm.template(chart, "x", "default", {}, kube_version=KUBE)
    assert result.error is not None and "set .Values.name" in result.error
    assert str(helm_error.value).endswith(result.error)


def test_missing_chart_and_bad_kube_version_are_helms_errors(engine, tmp_path: Path) -> None:
    for version in (KUBE, "not-a-version"):
        result = engine.render(RenderRequest(tmp_path / "nowhere", "x", "default", {}, version))
        proc = subprocess.run([tools.find("helm"), "template", "x", str(tmp_path / "nowhere"), "--namespace",
                               "default", "--kube-version", version, "--values", "-"],
                              input="{}", capture_output=True, text=True)
        assert proc.returncode != 0
        assert result.error is not None and result.objects == []
        assert proc.stderr.strip().endswith(result.error), version


def test_kube_version_without_schemas_is_an_error_not_a_skip(engine, probe_chart: Path) -> None:
    result = engine.render(RenderRequest(probe_chart, "probe", "edgeai-probe", {}, "1.19.0"))
    assert result.error is None and result.objects
    assert {f.status for f in result.schema} == {"error"}
    assert "no usable Kubernetes schemas" in result.schema[0].errors[0].message


def test_patch_version_maps_to_its_minor_schemas(engine, probe_chart: Path) -> None:
    for version in ("1.25.9", "1.34.4", "1.37.1"):
        result = engine.render(RenderRequest(probe_chart, "probe", "edgeai-probe", {}, version))
        assert by_name(result)["good"][1].status == "valid", version


def test_many_in_flight_come_back_in_request_order(engine, probe_chart: Path) -> None:
    requests = [RenderRequest(probe_chart, f"r{i}", f"ns-{i}", {"replicas": 1 + i % 5}, KUBE,
                              validate=i % 2 == 0) for i in range(300)]
    results = list(engine.render_many(iter(requests)))
    assert [r.request for r in results] == requests
    for i, r in enumerate(results):
        assert r.error is None
        [good] = [o for o in r.objects if o["metadata"]["name"] == "good"]
        assert good["spec"]["replicas"] == 1 + i % 5
        assert (len(r.schema) == len(r.objects)) if i % 2 == 0 else r.schema == ()


def test_abandoned_stream_leaves_the_engine_usable(engine, probe_chart: Path) -> None:
    requests = (RenderRequest(probe_chart, f"r{i}", "ns", {}, KUBE) for i in range(200))
    stream = engine.render_many(requests)
    first = [next(stream) for _ in range(3)]
    stream.close()
    assert [r.request.release for r in first] == ["r0", "r1", "r2"]
    again = engine.render(RenderRequest(probe_chart, "after", "ns", {}, KUBE))
    assert again.error is None and again.objects


def test_one_stream_at_a_time(engine, probe_chart: Path) -> None:
    stream = engine.render_many(RenderRequest(probe_chart, f"r{i}", "ns", {}, KUBE) for i in range(5))
    next(stream)
    with pytest.raises(EngineError, match="already streaming"):
        engine.render(RenderRequest(probe_chart, "other", "ns", {}, KUBE))
    assert len(list(stream)) == 4


def test_non_strict_engine(engine_bin: str, probe_chart: Path) -> None:
    with Engine(engine_bin, strict=False, workers=1) as loose:
        result = loose.render(RenderRequest(probe_chart, "probe", "edgeai-probe", {}, KUBE))
    found = by_name(result)
    assert found["good"][1].status == "valid"
    assert found["bad-field"][1].status == "valid"  # the -local schemas allow unknown fields
    assert found["bad-type"][1].status == "invalid"
