"""charts/siddhi rendered with the real helm binary."""

from __future__ import annotations

import re

import pytest
import yaml

from edgeai import helm, paths
from tests.charts.conftest import assert_requests_and_limits, assert_restricted, containers, find, render

CHART = "siddhi"
APP = "sensor-anomaly.siddhi"
# ${NAME} left in a rendered app is resolved by the runner from the container environment:
# REDIS_PASSWORD comes from a secretKeyRef, INFERENCE_AUTH_VALUE is exported by start.sh.
RUNTIME_VARIABLES = {"REDIS_PASSWORD", "INFERENCE_AUTH_VALUE"}


def _deployment(objects):
    (deployment,) = find(objects, "Deployment", "siddhi")
    return deployment


def _pod(objects):
    return _deployment(objects)["spec"]["template"]["spec"]


def _runner(objects):
    (runner,) = [c for c in _pod(objects)["containers"] if c["name"] == "runner"]
    return runner


def _apps(objects) -> dict[str, str]:
    (configmap,) = find(objects, "ConfigMap", "siddhi-apps")
    return configmap["data"]


def _config(objects) -> dict[str, str]:
    (configmap,) = find(objects, "ConfigMap", "siddhi-config")
    return configmap["data"]


def _checksum(objects) -> str:
    return _deployment(objects)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_defaults_render_the_runner_with_its_objects():
    objects = render(CHART)
    kinds = sorted(o["kind"] for o in objects)
    # Two NetworkPolicies: the runner's own, and its egress to the site's Alertmanager.
    assert kinds == ["ConfigMap", "ConfigMap", "Deployment", "NetworkPolicy", "NetworkPolicy",
                     "PersistentVolumeClaim", "Service", "ServiceAccount"]
    deployment = _deployment(objects)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not find(objects, "PodDisruptionBudget")
    assert _runner(objects)["image"] == "ghcr.io/edgeai-platform/siddhi-runner:5.1.21"
    assert _pod(objects)["automountServiceAccountToken"] is False


def test_app_is_rendered_with_the_values_substituted():
    values = {
        "kafka": {"bootstrapServers": "broker-0.kafka:9093", "groupId": "cep-7", "sessionTimeoutMs": 15000,
                  "topics": {"input": "raw-in", "alerts": "al-out", "aggregates": "agg-out",
                             "predictions": "pred-out", "lowConfidence": "unsure-out"}},
        "inference": {"url": "http://gw.example.svc:8080/", "model": "pump-model", "inputName": "features",
                      "lowConfidenceThreshold": 0.25},
        "redis": {"host": "redis-primary.edgeai-redis.svc", "port": 6380},
        "features": {"windowSeconds": 30, "emitEverySeconds": 5},
        "rules": {"predictionThreshold": 0.75, "maxValue": 1000000, "zScore": 2.5},
    }
    app = _apps(render(CHART, values))[APP]
    assert "@App:name('sensor-anomaly')" in app
    assert "bootstrap.servers='broker-0.kafka:9093'" in app
    assert "topic.list='raw-in'" in app and "group.id='cep-7'" in app
    assert "optional.configuration='session.timeout.ms:15000,heartbeat.interval.ms:5000'" in app
    for topic in ("al-out", "agg-out"):
        assert f"topic='{topic}'" in app
    # Prediction records pick their topic per event: all to pred-out, the unsure ones to unsure-out too.
    assert "select 'pred-out' as topic" in app and "select 'unsure-out' as topic" in app
    assert "PredictionStream[confidence < 0.25]" in app
    assert '"model":"pump-model","model_version":"{{modelVersion}}"' in app
    assert "publisher.url='http://gw.example.svc:8080/v2/models/pump-model/infer'" in app
    assert '"name":"features","shape":[1,5],"datatype":"FP64"' in app
    assert "score='$.outputs[0].data[0]'" in app
    assert "host='redis-primary.edgeai-redis.svc', port='6380'" in app
    assert "#window.time(30 sec)" in app and "output last every 5 sec" in app
    assert "score >= 0.75" in app
    # no exponent notation: Siddhi reads 1e+06 as an error
    assert "maxValue > 1000000.0" in app and "zScore > 2.5" in app
    assert "'pump-model' as model" in app


def test_only_runtime_variables_are_left_for_the_runner():
    objects = render(CHART)
    for name, app in _apps(objects).items():
        left = set(re.findall(r"\$\{(\w+)\}", app))
        assert left <= RUNTIME_VARIABLES, (name, left - RUNTIME_VARIABLES)
    env = {e["name"] for e in _runner(objects)["env"]}
    assert "REDIS_PASSWORD" in env
    assert "INFERENCE_AUTH_VALUE" in _config(objects)["start.sh"]


def test_state_persistence_is_enabled_on_the_volume():
    objects = render(CHART, {"persistence": {"enabled": True, "size": "5Gi", "intervalMinutes": 3},
                             "global": {"storageClass": "local-path"}})
    sections = yaml.safe_load(_config(objects)["deployment.yaml"])
    state = sections["state.persistence"]
    assert state["enabled"] is True
    assert state["intervalInMin"] == 3
    assert state["persistenceStore"] == "io.siddhi.distribution.core.persistence.FileSystemPersistenceStore"
    (pvc,) = find(objects, "PersistentVolumeClaim", "siddhi-state")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert pvc["spec"]["storageClassName"] == "local-path"
    pod = _pod(objects)
    (volume,) = [v for v in pod["volumes"] if v["name"] == "state"]
    assert volume["persistentVolumeClaim"]["claimName"] == "siddhi-state"
    (mount,) = [m for m in _runner(objects)["volumeMounts"] if m["name"] == "state"]
    assert mount["mountPath"] == state["config"]["location"]


def test_runner_config_sections_merge_over_the_chart():
    objects = render(CHART, {"runnerConfig": {
        "state.persistence": {"revisionsToKeep": 5},
        "siddhi": {"extensions": [{"extension": {"name": "tcp", "namespace": "source"}}]}}})
    sections = yaml.safe_load(_config(objects)["deployment.yaml"])
    assert sections["state.persistence"]["revisionsToKeep"] == 5
    assert sections["state.persistence"]["enabled"] is True
    assert sections["siddhi"]["extensions"][0]["extension"]["name"] == "tcp"


def test_no_secret_is_rendered_only_referenced():
    objects = render(CHART)
    assert not find(objects, "Secret")
    env = {e["name"]: e for e in _runner(objects)["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "redis-auth", "key": "password"}
    assert env["GATEWAY_API_KEYS"]["valueFrom"]["secretKeyRef"] == {"name": "cep-api-key", "key": "key"}
    for container in _pod(objects)["containers"] + _pod(objects)["initContainers"]:
        for entry in container.get("env", []):
            if re.search(r"PASSWORD|KEY|TOKEN|SECRET", entry["name"]):
                assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], entry
    app = _apps(objects)[APP]
    assert "password='${REDIS_PASSWORD}'" in app
    assert "headers=\"'Authorization:${INFERENCE_AUTH_VALUE}'\"" in app


def test_api_key_can_be_turned_off():
    objects = render(CHART, {"inference": {"url": "http://m:8080", "model": "m",
                                           "apiKey": {"enabled": False}}})
    assert "GATEWAY_API_KEYS" not in {e["name"] for e in _runner(objects)["env"]}
    app = _apps(objects)[APP]
    assert "${INFERENCE_AUTH_VALUE}" not in app and "INFERENCE_AUTH_VALUE" not in _config(objects)["start.sh"]
    assert "headers=\"'Accept:application/json'\"" in app


def test_probes_target_a_declared_container_port():
    objects = render(CHART)
    for container in _pod(objects)["containers"]:
        ports = {p["name"] for p in container["ports"]} | {p["containerPort"] for p in container["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            handler = container[probe]
            target = (handler.get("tcpSocket") or handler.get("httpGet"))["port"]
            assert target in ports, (container["name"], probe, target)


def test_every_container_has_a_restricted_security_context_and_resources():
    objects = render(CHART, {"extraJars": [{
        "name": "kafka-clients", "path": "/jars", "target": "lib",
        "image": {"repository": "example/siddhi-kafka-jars", "tag": "2.8.1"}}]})
    assert_restricted(objects)
    assert_requests_and_limits(objects)
    every = containers(_pod(objects))
    assert {c["name"] for c in every} == {"runner", "prepare", "jars-kafka-clients"}
    # the runner writes only to volumes: its copied home, /tmp and the state volume
    writable = {m["mountPath"] for m in _runner(objects)["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/home/siddhi_user", "/tmp", "/var/lib/siddhi/state"}
    (jars,) = [c for c in every if c["name"] == "jars-kafka-clients"]
    assert {"name": "TARGET", "value": "/runtime/siddhi-runner/lib"} in jars["env"]


def test_image_registry_override_reaches_every_container():
    objects = render(CHART, {"global": {"imageRegistry": "mirror.local:5000"}})
    pod = _pod(objects)
    for container in pod["containers"] + pod["initContainers"]:
        assert container["image"].startswith("mirror.local:5000/edgeai-platform/siddhi-runner:")


def test_extra_apps_appear_with_placeholders_substituted():
    extra = ("@App:name('echo')\n@source(type='kafka', topic.list='${TOPIC_ALERTS}')\n"
             "define stream A (x int);\n")
    apps = _apps(render(CHART, {"extraApps": {"echo": extra}}))
    assert set(apps) == {APP, "echo.siddhi"}
    assert "topic.list='alerts'" in apps["echo.siddhi"]


def test_extra_app_name_must_match_its_file():
    with pytest.raises(helm.HelmError, match="must declare @App:name"):
        render(CHART, {"extraApps": {"echo": "@App:name('other')\ndefine stream A (x int);"}})
    with pytest.raises(helm.HelmError, match="already ships"):
        shadow = "@App:name('sensor-anomaly')\ndefine stream A (x int);"
        render(CHART, {"extraApps": {"sensor-anomaly": shadow}})


def test_a_change_in_app_text_rolls_the_pod():
    base = _checksum(render(CHART))
    assert _checksum(render(CHART)) == base
    assert _checksum(render(CHART, {"rules": {"predictionThreshold": 0.9}})) != base
    with_app = _checksum(render(CHART, {"extraApps": {"a": "@App:name('a')\ndefine stream A (x int);"}}))
    changed = _checksum(render(CHART, {"extraApps": {"a": "@App:name('a')\ndefine stream A (y int);"}}))
    assert base != with_app != changed


def test_metrics_are_annotated_served_and_allowed():
    objects = render(CHART, {"networkPolicy": {"enabled": True,
                                               "ingressNamespaces": ["edgeai-monitoring"],
                                               "egressNamespaces": ["edgeai-kafka", "edgeai-gateway",
                                                                    "edgeai-models", "edgeai-redis"]}})
    annotations = _deployment(objects)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    ports = {p["name"]: p["containerPort"] for p in _runner(objects)["ports"]}
    assert int(annotations["prometheus.io/port"]) == ports["metrics"] == 9080
    assert "server.url='http://0.0.0.0:9080'" in _apps(objects)[APP]
    (service,) = find(objects, "Service", "siddhi")
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 9090, "metrics": 9080}
    (policy,) = find(objects, "NetworkPolicy", "siddhi-runner")
    assert {p["port"] for p in policy["spec"]["ingress"][0]["ports"]} == {9090, 9080}
    egress = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
              for rule in policy["spec"]["egress"] for peer in rule["to"] if "namespaceSelector" in peer}
    assert {"edgeai-kafka", "edgeai-gateway", "edgeai-models", "edgeai-redis"} <= egress


def test_metrics_can_be_turned_off():
    objects = render(CHART, {"metrics": {"enabled": False, "port": 9080}})
    app = _apps(objects)[APP]
    assert "type='prometheus'" not in app and "CepEventCountStream" not in app
    assert "edgeai:metrics" not in app
    annotations = _deployment(objects)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "false"
    assert "metrics" not in {p["name"] for p in _runner(objects)["ports"]}


@pytest.mark.parametrize("values", [
    {"bogus": 1},
    {"kafka": {"topics": {"inptu": "x"}}},
    {"kafka": {"sessionTimeoutMs": 1000}},      # below the brokers' group.min.session.timeout.ms
    {"inference": {"url": "http://x", "model": "m", "apiKey": {"secret": "x"}}},
    {"image": {"repository": "siddhiio/siddhi-runner-alpine", "tag": "latest"}},
    {"extraJars": [{"name": "x", "path": "/jars", "image": {"repository": "r", "tag": "1"}, "into": "lib"}]},
])
def test_schema_rejects_unknown_or_unsafe_values(values):
    with pytest.raises(helm.HelmError, match="don't meet the specifications of the schema"):
        render(CHART, values)


def test_lint_strict_passes():
    helm.lint(paths.CHARTS / CHART)


def test_alerts_go_to_alertmanager_through_an_http_sink_and_a_policy_of_their_own():
    objects = render(CHART, {"global": {"site": "s1", "environment": "e1"}})
    app = find(objects, "ConfigMap", "siddhi-apps")[0]["data"]["sensor-anomaly.siddhi"]
    url = "http://monitoring-alertmanager.edgeai-monitoring.svc:9093/api/v2/alerts"
    assert f"@sink(type='http', publisher.url='{url}'" in app
    assert '"site":"s1","environment":"e1"' in app and "insert into AlertmanagerStream;" in app
    (policy,) = find(objects, "NetworkPolicy", "siddhi-to-alertmanager")
    (rule,) = policy["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9093}]
    assert rule["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "edgeai-monitoring"}
    off = render(CHART, {"alertmanager": {"enabled": False}})
    off_app = find(off, "ConfigMap", "siddhi-apps")[0]["data"]["sensor-anomaly.siddhi"]
    assert "define stream AlertmanagerStream" not in off_app
    assert not find(off, "NetworkPolicy", "siddhi-to-alertmanager")


def test_per_event_rules_are_generated_from_values():
    objects = render(CHART, {"rules": {"perEvent": [
        {"name": "too-cold", "sensorType": "temp", "field": "value", "op": "<", "value": -5, "severity": "info",
         "action": "check-heating"}], "patterns": [
        {"name": "flapping", "field": "value", "op": ">=", "value": 10, "count": 4, "withinSeconds": 2,
         "severity": "warning", "action": "machine-failure"}]}})
    app = find(objects, "ConfigMap", "siddhi-apps")[0]["data"]["sensor-anomaly.siddhi"]
    assert "from SensorEventStream[value < -5.0 and sensorType == 'temp']" in app
    assert "'too-cold' as rule" in app and "'check-heating' as action" in app
    assert ("from every e1=SensorEventStream[value >= 10.0], e2=SensorEventStream[value >= 10.0], "
            "e3=SensorEventStream[value >= 10.0], e4=SensorEventStream[value >= 10.0]\n         within 2 sec") in app
    assert "overheat" not in app                 # the chart's example rules are replaced, not added to
    with pytest.raises(helm.HelmError, match="sensorType"):
        render(CHART, {"rules": {"perEvent": [{"name": "x", "sensorType": "a' or true", "field": "value",
                                               "op": ">", "value": 1, "severity": "info", "action": "y"}]}})
