"""charts/monitoring rendered by the real helm: scrape config, least-privilege RBAC, alert rules,
dashboards, secrets, probes and Pod Security `restricted`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgeai import helm, paths, tools
from tests.charts.conftest import (
    PROBES,
    assert_probes_on_declared_ports,
    assert_requests_and_limits,
    assert_restricted,
    assert_schema_embeds_shared_defs,
    find,
    pod_annotations,
    pod_specs,
    render,
)

NS = "edgeai-monitoring"
CHART = paths.CHARTS / "monitoring"
RULES_FILE = CHART / "rules" / "edgeai.rules.yaml"
RULES_TEST = CHART / "tests" / "rules.test.yaml"
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))
SITE_NAMESPACES = ["edgeai-kafka", "edgeai-redis", "edgeai-models", "edgeai-gateway",
                   "edgeai-siddhi", "edgeai-monitoring"]
REQUIRED_ALERTS = {"KafkaConsumerLagHigh", "InferenceLatencyHigh", "ModelServerDown",
                   "CEPThroughputLow", "CEPThroughputStalled", "RedisDown", "TargetDown",
                   "PrometheusRemoteWriteFailing", "ModelPredictionDrift"}
# A string that must never reach rendered output (stands for a password a user might try to pass).
CANARY = "s3cr3t-canary-value"


def monitoring(values: dict[str, Any] | None = None, namespace: str = NS) -> list[dict[str, Any]]:
    return render("monitoring", values, release="monitoring", namespace=namespace)


def prometheus_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(find(objects, "ConfigMap", "monitoring-prometheus")[0]["data"]["prometheus.yml"])


def rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]]


# Identifiers in a PromQL expression that are metric names: not functions, keywords or labels.
_PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "rate", "irate", "increase", "histogram_quantile",
    "offset", "bool", "absent", "le", "topk", "bottomk", "quantile", "stddev", "delta", "e",
}


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)             # label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)          # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)           # range selectors
    names = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", expr))
    return {n for n in names if n not in _PROMQL_WORDS and not re.fullmatch(r"\d+e\d+|\d+", n)}


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


# --- lint and schema ------------------------------------------------------------------------

def test_chart_lints_strictly_with_defaults() -> None:
    helm.lint(CHART)


def test_schema_embeds_the_shared_defs() -> None:
    assert_schema_embeds_shared_defs(CHART)


@pytest.mark.parametrize("values", [
    {"unknown": 1},
    {"prometheus": {"replicas": 2}},
    {"grafana": {"admin": {"password": CANARY}}},
    {"remoteWrite": {"password": CANARY}},
    {"scrapeNamespaces": ["Not_A_Namespace"]},
    {"global": {"sitee": "typo"}},
    {"prometheus": {"image": {"tag": "latest"}}},
    {"prometheus": {"retention": {"time": "two weeks"}}},
    {"networkPolicy": {"egressCIDR": ["10.0.0.1/32"]}},
])
def test_schema_rejects_unknown_keys_and_bad_values(values) -> None:
    with pytest.raises(helm.HelmError, match="schema"):
        monitoring(values)


# --- scrape configuration -------------------------------------------------------------------

def test_scrape_config_lists_exactly_the_given_namespaces() -> None:
    config = prometheus_config(monitoring({"scrapeNamespaces": SITE_NAMESPACES}))
    jobs = config["scrape_configs"]
    assert [j["job_name"] for j in jobs] == ["kubernetes-pods"]
    sd = jobs[0]["kubernetes_sd_configs"]
    assert sd == [{"role": "pod", "namespaces": {"names": SITE_NAMESPACES}}]


def test_scrape_namespaces_default_to_the_release_namespace() -> None:
    config = prometheus_config(monitoring(namespace="somewhere"))
    assert config["scrape_configs"][0]["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["somewhere"]


def test_scrape_relabelling_follows_the_prometheus_io_annotations() -> None:
    relabel = prometheus_config(monitoring())["scrape_configs"][0]["relabel_configs"]
    keep = relabel[0]
    assert keep == {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                    "regex": "true", "action": "keep"}
    by_target = {}
    for r in relabel:
        by_target.setdefault(r.get("target_label"), []).append(r)
    assert by_target["__metrics_path__"][0]["source_labels"] == [
        "__meta_kubernetes_pod_annotation_prometheus_io_path"]
    for rule in by_target["__address__"]:
        assert rule["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_port",
                                         "__meta_kubernetes_pod_ip"]
    # The labels the alert rules select on.
    for label in ("namespace", "pod", "app", "release", "component"):
        assert label in by_target, label


def test_address_relabelling_regexes_build_pod_ip_and_annotated_port() -> None:
    """Prometheus anchors relabel regexes; apply them the same way to sample inputs."""
    relabel = prometheus_config(monitoring())["scrape_configs"][0]["relabel_configs"]
    rules_ = [r for r in relabel if r.get("target_label") == "__address__"]

    def address(port: str, ip: str) -> str | None:
        result = None
        for r in rules_:
            m = re.fullmatch(r["regex"], f"{port};{ip}")
            if m:
                groups = m.groups()
                result = re.sub(r"\$(\d+)", lambda g, gs=groups: gs[int(g.group(1)) - 1], r["replacement"])
        return result

    assert address("9308", "10.42.0.7") == "10.42.0.7:9308"
    assert address("8082", "fd00::7") == "[fd00::7]:8082"
    assert address("", "10.42.0.7") is None  # no port annotation: Prometheus keeps the discovered address


def test_external_labels_come_from_global() -> None:
    config = prometheus_config(monitoring({"global": {"environment": "prod", "site": "ber-1",
                                                      "region": "eu-central", "owner": "ops"}}))
    assert config["global"]["external_labels"] == {"environment": "prod", "site": "ber-1",
                                                   "region": "eu-central"}


def test_no_remote_write_without_a_url() -> None:
    objects = monitoring()
    assert "remote_write" not in prometheus_config(objects)
    sts = find(objects, "StatefulSet", "monitoring-prometheus")[0]
    assert all("secret" not in v for v in sts["spec"]["template"]["spec"]["volumes"])


def test_remote_write_reads_basic_auth_from_the_existing_secret() -> None:
    objects = monitoring({"remoteWrite": {"url": "https://metrics.example.com/api/v1/write",
                                          "existingSecret": "remote-write"}})
    (rw,) = prometheus_config(objects)["remote_write"]
    assert rw["url"] == "https://metrics.example.com/api/v1/write"
    auth = rw["basic_auth"]
    assert set(auth) == {"username_file", "password_file"}
    spec = find(objects, "StatefulSet", "monitoring-prometheus")[0]["spec"]["template"]["spec"]
    (secret,) = [v for v in spec["volumes"] if "secret" in v]
    assert secret["secret"]["secretName"] == "remote-write"
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == secret["name"])
    assert mount["readOnly"] is True
    for key in ("username_file", "password_file"):
        item = Path(auth[key])
        assert str(item.parent) == mount["mountPath"]
        assert item.name in {i["path"] for i in secret["secret"]["items"]}


def test_remote_write_sends_the_models_metrics_only_unless_told_otherwise() -> None:
    url = {"url": "https://metrics.example.com/api/v1/write"}
    (rw,) = prometheus_config(monitoring({"remoteWrite": url}))["remote_write"]
    (keep,) = rw["write_relabel_configs"]
    assert keep["source_labels"] == ["__name__"] and keep["action"] == "keep"
    sent = re.compile(keep["regex"])   # Prometheus anchors it: fullmatch
    for name in ("edgeai_cep_predictions_total", "edgeai:model_prediction_drift:psi1h", "up",
                 "model_infer_request_success_total", "model_infer_request_failure_total",
                 "rest_server_request_duration_seconds_bucket", "nv_inference_request_duration_us"):
        assert sent.fullmatch(name), name
    for name in ("redis_memory_used_bytes", "prometheus_tsdb_head_series", "edgeai_cep_events_total",
                 "kafka_consumergroup_lag", "container_cpu_usage_seconds_total"):
        assert not sent.fullmatch(name), name
    (rw,) = prometheus_config(monitoring({"remoteWrite": {**url, "metrics": ""}}))["remote_write"]
    assert "write_relabel_configs" not in rw


def test_retention_flags() -> None:
    sts = find(monitoring({"prometheus": {"retention": {"time": "30d", "size": "20GB"}}}),
               "StatefulSet", "monitoring-prometheus")[0]
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--storage.tsdb.retention.time=30d" in args
    assert "--storage.tsdb.retention.size=20GB" in args


# --- RBAC -----------------------------------------------------------------------------------

def test_one_role_and_binding_per_scrape_namespace_and_no_cluster_scope() -> None:
    objects = monitoring({"scrapeNamespaces": SITE_NAMESPACES})
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")
    roles = find(objects, "Role")
    bindings = find(objects, "RoleBinding")
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(SITE_NAMESPACES)
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(SITE_NAMESPACES)
    for role in roles:
        granted = {(g, res, verb) for rule in role["rules"] for g in rule["apiGroups"]
                   for res in rule["resources"] for verb in rule["verbs"]}
        expected = {(g, res, verb) for g, res in [("", "pods"), ("", "services"), ("", "endpoints"),
                                                  ("discovery.k8s.io", "endpointslices")]
                    for verb in ("get", "list", "watch")}
        assert granted == expected
        assert "*" not in json.dumps(role["rules"])
    for binding in bindings:
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": "monitoring-prometheus"}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "monitoring-prometheus",
                                        "namespace": NS}]


def test_only_prometheus_mounts_its_service_account_token() -> None:
    objects = monitoring()
    for sa in find(objects, "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False
    specs = pod_specs(objects)
    assert specs["StatefulSet/monitoring-prometheus"]["automountServiceAccountToken"] is True
    assert specs["StatefulSet/monitoring-prometheus"]["serviceAccountName"] == "monitoring-prometheus"
    others = {k: v for k, v in specs.items() if k != "StatefulSet/monitoring-prometheus"}
    assert others, "Grafana renders by default"
    for name, spec in others.items():
        assert spec["automountServiceAccountToken"] is False, name


# --- alert rules ----------------------------------------------------------------------------

def test_rules_configmap_ships_the_chart_file_verbatim() -> None:
    cm = find(monitoring(), "ConfigMap", "monitoring-prometheus-rules")[0]
    assert yaml.safe_load(cm["data"]["edgeai.rules.yaml"]) == yaml.safe_load(RULES_FILE.read_text())
    config = prometheus_config(monitoring())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yaml"]
    sts = find(monitoring(), "StatefulSet", "monitoring-prometheus")[0]["spec"]["template"]["spec"]
    mount = next(m for m in sts["containers"][0]["volumeMounts"] if m["name"] == "rules")
    assert mount["mountPath"] == "/etc/prometheus/rules"


def test_every_required_alert_exists_with_severity_summary_description_and_runbook() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert set(alerts) >= REQUIRED_ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key, "").strip(), (name, key)
        assert "for" in rule, name


def test_alerts_use_the_exporters_real_metric_names() -> None:
    used = set().union(*(metric_names(r["expr"]) for r in rules()))
    assert {"kafka_consumergroup_lag", "kafka_consumergroup_current_offset",
            "kafka_topic_partition_current_offset", "rest_server_request_duration_seconds_bucket",
            "nv_inference_request_duration_us", "nv_inference_request_success", "redis_up", "up",
            "prometheus_remote_storage_samples_failed_total"} <= used


def test_promtool_unit_tests_cover_every_alert_firing_and_quiet() -> None:
    spec = yaml.safe_load(RULES_TEST.read_text())
    assert spec["rule_files"] == ["../rules/edgeai.rules.yaml", "model-drift.rules.yaml"]
    assert (RULES_TEST.parent / spec["rule_files"][0]).resolve() == RULES_FILE.resolve()
    fired, quiet = set(), set()
    for test in spec["tests"]:
        for check in test["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
            for alert in check["exp_alerts"]:
                assert alert["exp_labels"]["severity"]
                assert alert["exp_annotations"]["summary"]
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert fired == alerts
    assert quiet == alerts


def test_the_drift_unit_tests_run_on_the_references_the_chart_renders() -> None:
    """rules.test.yaml's drift cases read model-drift.rules.yaml: it must be what the chart renders from
    model-drift.values.yaml, so the tests check the shipped template, not a hand-written copy."""
    values = yaml.safe_load((RULES_TEST.parent / "model-drift.values.yaml").read_text())
    rendered = find(monitoring(values), "ConfigMap", "monitoring-prometheus-rules")[0]["data"]
    fixture = (RULES_TEST.parent / "model-drift.rules.yaml").read_text()
    assert yaml.safe_load(rendered["model-drift.rules.yaml"]) == yaml.safe_load(fixture)
    reference = [r for g in yaml.safe_load(fixture)["groups"] for r in g["rules"]
                 if r["record"] == "edgeai:model_prediction_reference:ratio"]
    assert [r["labels"]["bin"] for r in reference] == [str(b) for b in range(10)]
    # Without models the file is absent: nothing to compare, the drift rules stay silent.
    assert "model-drift.rules.yaml" not in find(monitoring(), "ConfigMap", "monitoring-prometheus-rules")[0]["data"]


def _promtool() -> str:
    """The promtool of the chart's Prometheus version (scripts/install-engines.sh builds it)."""
    pinned = paths.CACHE / "tools" / "promtool" / tools.pinned_versions()["PROMETHEUS_VERSION"] / "bin" / "promtool"
    if pinned.is_file():
        return str(pinned)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"promtool is missing ({pinned}); install it with: bash scripts/install-engines.sh")
    tool = shutil.which("promtool")
    if not tool:
        pytest.skip("promtool not installed: bash scripts/install-engines.sh")
    return tool


def test_promtool_runs_the_rule_unit_tests() -> None:
    proc = subprocess.run([_promtool(), "test", "rules", RULES_TEST.name], cwd=RULES_TEST.parent,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_accepts_the_rendered_rules_and_the_dashboard_queries(tmp_path) -> None:
    tool = _promtool()
    cm = find(monitoring(), "ConfigMap", "monitoring-prometheus-rules")[0]
    rendered = tmp_path / "rendered.rules.yaml"
    rendered.write_text(cm["data"]["edgeai.rules.yaml"])
    # Every dashboard query as a recording rule, so promtool parses it.
    exprs = [e for d in DASHBOARDS for e in dashboard_exprs(json.loads(d.read_text()))]
    records = [{"record": f"dashboard:query:{i}", "expr": e} for i, e in enumerate(exprs)]
    queries = tmp_path / "dashboards.rules.yaml"
    queries.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": records}]}))
    proc = subprocess.run([tool, "check", "rules", str(rendered), str(queries)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_accepts_the_rendered_prometheus_config(tmp_path) -> None:
    tool = _promtool()
    objects = monitoring({"scrapeNamespaces": SITE_NAMESPACES,
                          "global": {"environment": "prod", "site": "ber-1", "region": "eu"},
                          "remoteWrite": {"url": "https://metrics.example.com/api/v1/write",
                                          "existingSecret": "remote-write"},
                          "alertmanagers": ["alertmanager.example.com:9093"]})
    rules_file = tmp_path / "edgeai.rules.yaml"
    rules_cm = find(objects, "ConfigMap", "monitoring-prometheus-rules")[0]
    rules_file.write_text(rules_cm["data"]["edgeai.rules.yaml"])
    for name in ("username", "password"):
        (tmp_path / name).write_text("x")
    text = find(objects, "ConfigMap", "monitoring-prometheus")[0]["data"]["prometheus.yml"]
    text = text.replace("/etc/prometheus/rules/*.yaml", str(rules_file))
    text = text.replace("/etc/prometheus/secrets/remote-write", str(tmp_path))
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    proc = subprocess.run([tool, "check", "config", str(config)], capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    if "field kubernetes_sd_configs not found" in out or "field username_file not found" in out:
        pytest.skip("this promtool predates or lacks parts of Prometheus 3 "
                    "(e.g. Debian's is built without Kubernetes discovery)")
    assert proc.returncode == 0, out


# --- dashboards -----------------------------------------------------------------------------

def test_dashboards_are_valid_json_with_prometheus_panels() -> None:
    assert {d.name for d in DASHBOARDS} == {"kafka-lag.json", "inference.json",
                                            "cep-throughput.json", "redis.json", "query-api.json"}
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["title"] and dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        assert dashboard["panels"], path.name
        for panel in dashboard["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            assert panel["targets"], (path.name, panel["title"])


def test_dashboards_query_the_metrics_the_alerts_use() -> None:
    rule_metrics = set().union(*(metric_names(r["expr"]) for r in rules()))
    for path in DASHBOARDS:
        used = set().union(*(metric_names(e) for e in dashboard_exprs(json.loads(path.read_text()))))
        assert used & rule_metrics, f"{path.name} shares no metric with the alert rules"
    def metrics_of(name: str) -> set[str]:
        dashboard = json.loads((CHART / "dashboards" / name).read_text())
        return set().union(*(metric_names(e) for e in dashboard_exprs(dashboard)))

    assert {"rest_server_request_duration_seconds_bucket", "nv_inference_request_duration_us",
            "model_infer_request_success_total"} <= metrics_of("inference.json")
    assert "kafka_consumergroup_lag" in metrics_of("kafka-lag.json")
    assert "kafka_consumergroup_current_offset" in metrics_of("cep-throughput.json")
    assert "redis_up" in metrics_of("redis.json")
    # The query API's gauges (tests/realengines/test_query_api_engine.py scrapes them from the real service).
    assert {"edgeai_sensor_aggregate", "edgeai_sensor_prediction_score", "edgeai_query_redis_up"} <= \
        metrics_of("query-api.json")


def test_grafana_provisions_the_prometheus_datasource_and_every_dashboard() -> None:
    objects = monitoring()
    cm = find(objects, "ConfigMap", "monitoring-grafana")[0]["data"]
    (ds,) = yaml.safe_load(cm["datasources.yaml"])["datasources"]
    assert ds["type"] == "prometheus" and ds["uid"] == "prometheus"
    assert ds["url"] == "http://monitoring-prometheus:9090"
    (provider,) = yaml.safe_load(cm["dashboards.yaml"])["providers"]
    dashboards = find(objects, "ConfigMap", "monitoring-grafana-dashboards")[0]["data"]
    assert set(dashboards) == {d.name for d in DASHBOARDS}
    for name, text in dashboards.items():
        assert json.loads(text) == json.loads((CHART / "dashboards" / name).read_text())
    spec = find(objects, "Deployment", "monitoring-grafana")[0]["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts[provider["options"]["path"]] == "dashboards"
    assert mounts["/etc/grafana/provisioning/datasources"] == "datasources"


def test_grafana_can_be_switched_off() -> None:
    objects = monitoring({"grafana": {"enabled": False}})
    assert not [o for o in objects if o["metadata"]["name"].startswith("monitoring-grafana")]


# --- secrets --------------------------------------------------------------------------------

def test_no_secret_is_rendered_and_grafana_reads_admin_credentials_from_files() -> None:
    objects = monitoring({"remoteWrite": {"url": "https://m.example.com/api/v1/write",
                                          "existingSecret": "rw"}})
    assert not find(objects, "Secret")
    text = yaml.safe_dump_all(objects)
    assert "GF_SECURITY_ADMIN_PASSWORD:" not in text
    spec = find(objects, "Deployment", "monitoring-grafana")[0]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env and "GF_SECURITY_ADMIN_USER" not in env
    (secret,) = [v for v in spec["volumes"] if "secret" in v]
    assert secret["secret"]["secretName"] == "grafana-admin"
    assert {i["key"] for i in secret["secret"]["items"]} == {"admin-user", "admin-password"}
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == secret["name"])
    assert mount["readOnly"] is True
    for var in ("GF_SECURITY_ADMIN_USER__FILE", "GF_SECURITY_ADMIN_PASSWORD__FILE"):
        assert env[var]["value"].startswith(mount["mountPath"] + "/")


def test_grafana_admin_secret_name_and_keys_are_configurable() -> None:
    objects = monitoring({"grafana": {"admin": {"existingSecret": "site-grafana",
                                                "userKey": "user", "passwordKey": "pass"}}})
    spec = find(objects, "Deployment", "monitoring-grafana")[0]["spec"]["template"]["spec"]
    (secret,) = [v for v in spec["volumes"] if "secret" in v]
    assert secret["secret"]["secretName"] == "site-grafana"
    assert {i["key"] for i in secret["secret"]["items"]} == {"user", "pass"}


# --- pods: probes, resources, security, annotations -----------------------------------------

def test_every_pod_is_restricted_with_defaults() -> None:
    objects = monitoring()
    specs = pod_specs(objects)
    assert set(specs) == {"StatefulSet/monitoring-prometheus", "Deployment/monitoring-grafana",
                          "StatefulSet/monitoring-alertmanager"}
    assert_restricted(objects)
    prom = specs["StatefulSet/monitoring-prometheus"]["securityContext"]
    assert prom["runAsUser"] == 65534 and prom["fsGroup"] == 65534
    graf = specs["Deployment/monitoring-grafana"]["securityContext"]
    assert graf["runAsUser"] == 472 and graf["fsGroup"] == 472


def test_probes_resources_and_writable_paths() -> None:
    objects = monitoring()
    specs = pod_specs(objects)
    assert_probes_on_declared_ports(objects)
    assert_requests_and_limits(objects)
    for name, spec in specs.items():
        for container in spec["containers"]:
            for probe in PROBES:  # no exec probes here: every probe is an HTTP or TCP check
                handler = container.get(probe)
                assert not handler or handler.get("httpGet") or handler.get("tcpSocket"), (name, probe)
            assert container["image"].split(":")[-1] not in {"", "latest"}
    prom = specs["StatefulSet/monitoring-prometheus"]["containers"][0]
    assert prom["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert prom["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    graf = specs["Deployment/monitoring-grafana"]["containers"][0]
    assert graf["readinessProbe"]["httpGet"]["path"] == "/api/health"
    writable = {m["mountPath"] for m in graf["volumeMounts"] if not m.get("readOnly")}
    assert {"/var/lib/grafana", "/tmp"} <= writable
    env = {e["name"]: e.get("value") for e in graf["env"]}
    for key in ("GF_PATHS_DATA", "GF_PATHS_LOGS", "GF_PATHS_PLUGINS"):
        assert env[key].startswith("/var/lib/grafana"), key


def test_prometheus_data_lives_on_a_pvc_of_the_site_storage_class() -> None:
    objects = monitoring({"global": {"storageClass": "local-path"}})
    sts = find(objects, "StatefulSet", "monitoring-prometheus")[0]
    assert sts["spec"]["replicas"] == 1
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["storageClassName"] == "local-path"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == "/prometheus"


def test_pods_are_scraped_and_roll_on_config_changes() -> None:
    objects = monitoring()
    specs = pod_specs(objects)
    base = pod_annotations(objects)
    assert set(base) == set(specs)
    for name, ann in base.items():
        assert ann["prometheus.io/scrape"] == "true"
        ports = {p["containerPort"] for c in specs[name]["containers"] for p in c.get("ports", [])}
        assert int(ann["prometheus.io/port"]) in ports, name
        assert ann["prometheus.io/path"] == "/metrics"
        assert any(k.startswith("checksum/") for k in ann), name
    changed = pod_annotations(monitoring({"scrape": {"interval": "15s", "timeout": "10s",
                                                     "evaluationInterval": "15s"}}))
    for name in base:
        if name != "StatefulSet/monitoring-alertmanager":   # its config has no scrape settings
            assert base[name]["checksum/config"] != changed[name]["checksum/config"], name
    routed = pod_annotations(monitoring({"alertmanager": {"groupWait": "5s"}}))
    assert routed["StatefulSet/monitoring-alertmanager"]["checksum/config"] != \
        base["StatefulSet/monitoring-alertmanager"]["checksum/config"]


def test_services_match_the_contract() -> None:
    objects = monitoring()
    prom = find(objects, "Service", "monitoring-prometheus")[0]
    assert [p["port"] for p in prom["spec"]["ports"]] == [9090]
    graf = find(objects, "Service", "monitoring-grafana")[0]
    assert [p["port"] for p in graf["spec"]["ports"]] == [3000]


def test_a_network_policy_per_workload_on_its_port() -> None:
    objects = monitoring({"networkPolicy": {"enabled": True, "ingressNamespaces": ["edgeai-gateway"],
                                            "egressNamespaces": SITE_NAMESPACES,
                                            "egressCIDRs": ["10.96.0.1/32"]}})
    policies = {p["metadata"]["name"]: p for p in find(objects, "NetworkPolicy")}
    assert set(policies) == {"monitoring-prometheus", "monitoring-grafana", "monitoring-alertmanager"}
    for name, port in (("monitoring-prometheus", 9090), ("monitoring-grafana", 3000),
                       ("monitoring-alertmanager", 9093)):
        spec = policies[name]["spec"]
        assert [p["port"] for p in spec["ingress"][0]["ports"]] == [port]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == name.split("-")[1]
    assert not find(monitoring({"networkPolicy": {"enabled": False}}), "NetworkPolicy")


def test_remote_write_receiver_is_opt_in() -> None:
    def args(values):
        [sts] = find(monitoring(values), "StatefulSet", "monitoring-prometheus")
        return sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--web.enable-remote-write-receiver" not in args(None)
    assert "--web.enable-remote-write-receiver" in args({"prometheus": {"remoteWriteReceiver": True}})


# --- Alertmanager ---------------------------------------------------------------------------------

def alertmanager_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(find(objects, "ConfigMap", "monitoring-alertmanager")[0]["data"]["alertmanager.yml"])


def test_prometheus_sends_to_the_sites_alertmanager_and_the_listed_ones() -> None:
    targets = prometheus_config(monitoring({"alertmanagers": ["am.example.com:9093"]}))["alerting"]
    assert targets["alertmanagers"][0]["static_configs"][0]["targets"] == ["am.example.com:9093",
                                                                          "monitoring-alertmanager:9093"]
    off = monitoring({"alertmanager": {"enabled": False}})
    assert "alerting" not in prometheus_config(off)
    assert not [o for o in off if "alertmanager" in o["metadata"]["name"]]


def test_alertmanager_routes_by_action_and_severity_to_the_declared_webhooks() -> None:
    config = alertmanager_config(monitoring({"alertmanager": {"receivers": [
        {"name": "maintenance", "url": "https://maint.example.com/hook"},
        {"name": "line-control", "url": "https://line.example.com/hook"}]}}))
    assert config["route"]["receiver"] == "maintenance" and config["route"]["group_wait"] == "0s"
    assert [(r["receiver"], r["matchers"]) for r in config["route"]["routes"]] == [
        ("line-control", ['action="shut-down-line"', 'severity="critical"']),
        ("maintenance", ['action="machine-failure"'])]
    hooks = {r["name"]: [w["url"] for w in r.get("webhook_configs", [])] for r in config["receivers"]}
    assert hooks == {"null": [], "maintenance": ["https://maint.example.com/hook"],
                     "line-control": ["https://line.example.com/hook"]}
    # Chart defaults: no URL, so the example routes drop until an environment sets them.
    assert all("webhook_configs" not in r for r in alertmanager_config(monitoring())["receivers"])


def test_a_route_to_an_undeclared_receiver_fails_the_render() -> None:
    with pytest.raises(helm.HelmError, match="not in alertmanager.receivers"):
        monitoring({"alertmanager": {"routes": [{"receiver": "pager", "matchers": ['site="x"']}]}})


def test_alertmanager_network_policy_lets_prometheus_and_the_cep_in_and_only_webhooks_out() -> None:
    objects = monitoring({"alertmanager": {"networkPolicy": {"ingressNamespaces": ["edgeai-siddhi"],
                                                             "webhookNamespaces": ["hooks"],
                                                             "webhookCIDRs": ["203.0.113.0/24"]}}})
    spec = find(objects, "NetworkPolicy", "monitoring-alertmanager")[0]["spec"]
    sources = spec["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "monitoring"}}} in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edgeai-siddhi"}}} in sources
    assert [p["port"] for p in spec["ingress"][0]["ports"]] == [9093]
    (dns, hooks) = spec["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert hooks["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "hooks"}}},
                           {"ipBlock": {"cidr": "203.0.113.0/24"}}]
