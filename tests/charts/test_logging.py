"""charts/logging rendered by the real helm: the restricted defaults (Elasticsearch + Kibana), the
privileged log-agent release (Fluent Bit), secrets, probes, RBAC and schemas."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from edgeai import helm, paths
from tests.charts.conftest import (
    assert_probes_on_declared_ports,
    assert_requests_and_limits,
    assert_restricted,
    assert_schema_embeds_shared_defs,
    containers,
    find,
    pod_annotations,
    pod_specs,
    render,
)

CHART = paths.CHARTS / "logging"
NS = "edgeai-logging"
AGENT_NS = "edgeai-log-agent"
# What the composition passes for the separate agent release.
AGENT = {"agent": {"enabled": True}, "elasticsearch": {"enabled": False}, "kibana": {"enabled": False}}
CANARY = "s3cr3t-canary-value"


def logging_(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render("logging", values, release="logging", namespace=NS)


def log_agent(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    merged = json.loads(json.dumps(AGENT))
    for key, value in (values or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return render("logging", merged, release="log-agent", namespace=AGENT_NS)


def fluent_bit_sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """Classic-mode Fluent Bit config as [(section, {key: value})] (keys lower-cased)."""
    sections: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            sections.append((line.strip("[]").upper(), {}))
        else:
            key, _, value = line.partition(" ")
            sections[-1][1][key.lower()] = value.strip()
    return sections


def agent_config(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    cm = find(objects, "ConfigMap", "log-agent-logging-agent")[0]
    return fluent_bit_sections(cm["data"]["fluent-bit.conf"])


def section(config, kind: str, name: str) -> dict[str, str]:
    (found,) = [s for k, s in config if k == kind and s["name"] == name]
    return found


# --- lint and schema ------------------------------------------------------------------------

def test_chart_lints_strictly_with_defaults_and_as_the_agent() -> None:
    helm.lint(CHART)
    helm.lint(CHART, AGENT)


def test_schema_embeds_the_shared_defs() -> None:
    assert_schema_embeds_shared_defs(CHART)


@pytest.mark.parametrize("values", [
    {"unknown": True},
    {"agent": {"enable": True}},
    {"agent": {"output": {"elasticsearch": {"password": CANARY}}}},
    {"elasticsearch": {"replicas": 3}},
    {"elasticsearch": {"security": {"elasticPassword": CANARY}}},
    {"kibana": {"elasticsearch": {"password": CANARY}}},
    {"agent": {"state": {"type": "hostPath", "hostPath": "/etc"}}},
    {"agent": {"state": {"type": "tmpfs"}}},
    {"elasticsearch": {"image": {"tag": "latest"}}},
    {"kibana": {"replicas": 0}},
])
def test_schema_rejects_unknown_keys_and_bad_values(values) -> None:
    with pytest.raises(helm.HelmError, match="schema"):
        logging_(values)


# --- defaults: Pod Security restricted ------------------------------------------------------

def test_defaults_render_elasticsearch_and_kibana_but_no_agent() -> None:
    specs = pod_specs(logging_())
    assert set(specs) == {"StatefulSet/logging-elasticsearch", "Deployment/logging-kibana"}
    objects = logging_()
    assert not find(objects, "DaemonSet")
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")


def test_every_pod_is_restricted_with_defaults() -> None:
    objects = logging_()
    assert_restricted(objects)
    for name, spec in pod_specs(objects).items():
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume, name


def test_kibana_replicas_get_a_pdb_and_spread() -> None:
    assert not find(logging_(), "PodDisruptionBudget")
    objects = logging_({"kibana": {"replicas": 2}, "global": {"nodeCount": 3}})
    (pdb,) = find(objects, "PodDisruptionBudget")
    assert pdb["metadata"]["name"] == "logging-kibana"
    assert pdb["spec"]["maxUnavailable"] == 1
    deploy = find(objects, "Deployment", "logging-kibana")[0]
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["template"]["spec"]["topologySpreadConstraints"]


# --- Elasticsearch --------------------------------------------------------------------------

def es_config(objects) -> dict[str, Any]:
    return yaml.safe_load(find(objects, "ConfigMap", "logging-elasticsearch")[0]["data"]["elasticsearch.yml"])


def test_elasticsearch_is_a_single_node_without_mmap_and_explicit_security() -> None:
    objects = logging_()
    config = es_config(objects)
    assert config["discovery.type"] == "single-node"
    assert config["node.store.allow_mmap"] is False
    for key in ("xpack.security.enabled", "xpack.security.enrollment.enabled",
                "xpack.security.http.ssl.enabled", "xpack.security.transport.ssl.enabled"):
        assert key in config, key
    assert config["xpack.security.enabled"] is True
    sts = find(objects, "StatefulSet", "logging-elasticsearch")[0]
    assert sts["spec"]["replicas"] == 1
    spec = sts["spec"]["template"]["spec"]
    # No sysctl and no privileged init container: the init container is the restricted setup step.
    assert "sysctls" not in spec["securityContext"]
    assert [c["name"] for c in spec["initContainers"]] == ["setup"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/usr/share/elasticsearch/data"
    assert mounts["config"] == "/usr/share/elasticsearch/config"
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g"


def test_elasticsearch_security_can_be_turned_off_explicitly() -> None:
    objects = logging_({"elasticsearch": {"security": {"enabled": False}},
                        "kibana": {"elasticsearch": {"existingSecret": ""}}})
    assert es_config(objects)["xpack.security.enabled"] is False
    spec = find(objects, "StatefulSet", "logging-elasticsearch")[0]["spec"]["template"]["spec"]
    assert not [v for v in spec["volumes"] if "secret" in v]
    kibana = yaml.safe_load(find(objects, "ConfigMap", "logging-kibana")[0]["data"]["kibana.yml"])
    assert "elasticsearch.password" not in kibana


def test_elasticsearch_credentials_come_from_the_existing_secret_only() -> None:
    objects = logging_()
    assert not find(objects, "Secret")
    spec = find(objects, "StatefulSet", "logging-elasticsearch")[0]["spec"]["template"]["spec"]
    (secret,) = [v for v in spec["volumes"] if "secret" in v]
    assert secret["secret"]["secretName"] == "elasticsearch-credentials"
    assert {i["key"] for i in secret["secret"]["items"]} == {
        "elastic-password", "kibana-password", "log-writer-password", "metrics-password"}
    for container in spec["initContainers"] + spec["containers"]:
        for mount in container.get("volumeMounts", []):
            if mount["name"] == secret["name"]:
                assert mount["readOnly"] is True
        for env in container.get("env", []):
            assert "value" not in env or "PASSWORD" not in env["name"], (container["name"], env)
    setup = find(objects, "ConfigMap", "logging-elasticsearch")[0]["data"]["setup.sh"]
    assert "bootstrap.password" in setup and "/secrets/elastic-password" in setup
    roles = yaml.safe_load(find(objects, "ConfigMap", "logging-elasticsearch")[0]["data"]["roles.yml"])
    assert roles["edgeai_log_writer"]["indices"][0]["names"] == ["edgeai-logs-*"]


def test_elasticsearch_exporter_is_scraped_and_probes_use_declared_ports() -> None:
    objects = logging_()
    ann = pod_annotations(objects)["StatefulSet/logging-elasticsearch"]
    assert ann["prometheus.io/scrape"] == "true"
    by_name = {c["name"]: c for c in pod_specs(objects)["StatefulSet/logging-elasticsearch"]["containers"]}
    ports = {p["containerPort"]: c for c in by_name.values() for p in c["ports"]}
    assert int(ann["prometheus.io/port"]) in ports
    assert ports[int(ann["prometheus.io/port"])]["name"] == "exporter"
    es = by_name["elasticsearch"]
    # The readiness probe asks the node itself for cluster health, on its declared http port.
    ready = find(logging_(), "ConfigMap", "logging-elasticsearch")[0]["data"]["ready.sh"]
    assert es["readinessProbe"]["exec"]["command"] == ["/bin/bash", "/etc/edgeai/ready.sh"]
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/_cluster/health", ready).group(1))
    assert port in {p["containerPort"] for p in es["ports"]}
    assert es["livenessProbe"]["tcpSocket"]["port"] == "http"
    assert "-u " not in ready, "the password goes to curl on stdin, not in its arguments"


# --- Kibana ---------------------------------------------------------------------------------

def test_kibana_connects_to_the_local_elasticsearch_with_a_secret_password() -> None:
    objects = logging_()
    kibana = yaml.safe_load(find(objects, "ConfigMap", "logging-kibana")[0]["data"]["kibana.yml"])
    assert kibana["elasticsearch.hosts"] == ["http://logging-elasticsearch:9200"]
    assert kibana["elasticsearch.username"] == "edgeai_kibana"
    assert kibana["elasticsearch.password"] == "${ELASTICSEARCH_PASSWORD}"
    container = find(objects, "Deployment", "logging-kibana")[0]["spec"]["template"]["spec"]["containers"][0]
    (env,) = container["env"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "elasticsearch-credentials", "key": "kibana-password"}


def test_kibana_alone_needs_an_elasticsearch_url() -> None:
    with pytest.raises(helm.HelmError, match="kibana.elasticsearch.hosts"):
        logging_({"elasticsearch": {"enabled": False}})
    objects = logging_({"elasticsearch": {"enabled": False},
                        "kibana": {"elasticsearch": {"hosts": ["https://es.cloud.example.com:443"]}}})
    kibana = yaml.safe_load(find(objects, "ConfigMap", "logging-kibana")[0]["data"]["kibana.yml"])
    assert kibana["elasticsearch.hosts"] == ["https://es.cloud.example.com:443"]
    assert not find(objects, "StatefulSet")


# --- the agent (separate release in a privileged namespace) ---------------------------------

def test_agent_release_renders_only_the_agent() -> None:
    objects = log_agent()
    assert set(pod_specs(objects)) == {"DaemonSet/log-agent-logging-agent"}
    assert not find(objects, "StatefulSet") and not find(objects, "Deployment")


def test_agent_is_the_only_workload_with_host_paths_and_logs_are_read_only() -> None:
    both = logging_({"agent": {"enabled": True}})
    for name, spec in pod_specs(both).items():
        host = [v for v in spec.get("volumes", []) if "hostPath" in v]
        if not name.startswith("DaemonSet/"):
            assert not host, name
            continue
        container = spec["containers"][0]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        paths_ = {v["hostPath"]["path"]: mounts[v["name"]] for v in host}
        assert set(paths_) == {"/var/log/containers", "/var/log/pods", "/var/lib/edgeai-log-agent"}
        for path, mount in paths_.items():
            if path.startswith("/var/log"):
                assert mount["readOnly"] is True, path
        # The one writable hostPath is the agent's own state directory (tail positions, buffer).
        assert not paths_["/var/lib/edgeai-log-agent"].get("readOnly")


def test_agent_state_can_live_in_an_empty_dir() -> None:
    spec = pod_specs(log_agent({"agent": {"enabled": True, "state": {"type": "emptyDir"}}}))[
        "DaemonSet/log-agent-logging-agent"]
    host = [v for v in spec["volumes"] if "hostPath" in v]
    assert {v["hostPath"]["path"] for v in host} == {"/var/log/containers", "/var/log/pods"}
    state = next(v for v in spec["volumes"] if v["name"] == "state")
    assert "emptyDir" in state


def test_agent_security_context_drops_every_capability() -> None:
    spec = pod_specs(log_agent())["DaemonSet/log-agent-logging-agent"]
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert not sc.get("privileged")
    assert sc["runAsUser"] == 0  # reads root-owned 0640 log files; documented in README.md
    assert not spec.get("hostNetwork") and not spec.get("hostPID")


def test_agent_rbac_is_read_only_on_pods_and_namespaces() -> None:
    objects = log_agent()
    (role,) = find(objects, "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods", "namespaces"],
                              "verbs": ["get", "list", "watch"]}]
    (binding,) = find(objects, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "log-agent-logging-agent",
                                    "namespace": AGENT_NS}]
    (sa,) = find(objects, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    spec = pod_specs(objects)["DaemonSet/log-agent-logging-agent"]
    assert spec["serviceAccountName"] == "log-agent-logging-agent"
    assert spec["automountServiceAccountToken"] is True


def test_agent_tails_container_logs_into_the_kubernetes_filter_and_elasticsearch() -> None:
    config = agent_config(log_agent())
    service = next(s for k, s in config if k == "SERVICE")
    assert service["http_server"] == "On" and service["http_port"] == "2020"
    tail = section(config, "INPUT", "tail")
    assert tail["path"] == "/var/log/containers/*.log"
    assert tail["db"].startswith("/var/lib/edgeai-log-agent/")
    kube = section(config, "FILTER", "kubernetes")
    assert kube["match"] == tail["tag"]
    assert kube["kube_token_file"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    es = section(config, "OUTPUT", "es")
    assert es["host"] == "logging-elasticsearch.edgeai-logging.svc" and es["port"] == "9200"
    assert es["logstash_prefix"] == "edgeai-logs"
    assert es["tls"] == "Off"
    assert es["suppress_type_name"] == "On"
    assert es["http_user"] == "${ES_USERNAME}" and es["http_passwd"] == "${ES_PASSWORD}"


def test_agent_ships_to_a_cloud_elasticsearch_over_tls() -> None:
    objects = log_agent({"agent": {"enabled": True, "output": {"elasticsearch": {
        "host": "es.cloud.example.com", "port": 443, "index": "site-ber-1",
        "tls": {"enabled": True, "verify": True}, "existingSecret": "cloud-es"}}}})
    es = section(agent_config(objects), "OUTPUT", "es")
    assert (es["host"], es["port"], es["tls"], es["tls.verify"], es["logstash_prefix"]) == \
        ("es.cloud.example.com", "443", "On", "On", "site-ber-1")
    container = pod_specs(objects)["DaemonSet/log-agent-logging-agent"]["containers"][0]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert refs == {"ES_USERNAME": {"name": "cloud-es", "key": "username"},
                    "ES_PASSWORD": {"name": "cloud-es", "key": "password"}}


def test_agent_without_credentials_sends_none() -> None:
    objects = log_agent({"agent": {"enabled": True, "output": {"elasticsearch": {
        "host": "es.local", "port": 9200, "index": "logs", "existingSecret": ""}}}})
    es = section(agent_config(objects), "OUTPUT", "es")
    assert "http_user" not in es and "http_passwd" not in es
    container = pod_specs(objects)["DaemonSet/log-agent-logging-agent"]["containers"][0]
    assert "env" not in container


def test_agent_records_carry_the_site() -> None:
    config = agent_config(log_agent({"global": {"site": "ber-1", "region": "eu", "environment": "prod"}}))
    modify = section(config, "FILTER", "modify")
    assert modify["match"] == "kube.*"
    cm = find(log_agent({"global": {"site": "ber-1"}}), "ConfigMap", "log-agent-logging-agent")[0]
    text = cm["data"]["fluent-bit.conf"]
    assert "Add     edgeai_site ber-1" in text


def test_agent_metrics_and_probes_on_port_2020() -> None:
    objects = log_agent()
    ann = pod_annotations(objects)["DaemonSet/log-agent-logging-agent"]
    assert (ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]) == \
        ("true", "2020", "/api/v2/metrics/prometheus")
    assert "checksum/config" in ann
    container = pod_specs(objects)["DaemonSet/log-agent-logging-agent"]["containers"][0]
    assert {p["containerPort"] for p in container["ports"]} == {2020}
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/v1/health", "port": "http"}
    assert container["livenessProbe"]["httpGet"]["port"] == "http"


# --- every pod ------------------------------------------------------------------------------

def releases() -> list[list[dict[str, Any]]]:
    """The objects of both releases a site installs from this chart: logging and the log agent."""
    return [logging_(), log_agent()]


def all_pods() -> dict[str, dict[str, Any]]:
    return {name: spec for objects in releases() for name, spec in pod_specs(objects).items()}


def test_probes_on_declared_ports_and_resources_everywhere() -> None:
    for objects in releases():
        assert_probes_on_declared_ports(objects)
        assert_requests_and_limits(objects)
    for name, spec in all_pods().items():
        for container in spec["containers"]:
            assert container["image"].split(":")[-1] not in {"", "latest"}, (name, container["name"])


def test_pods_mount_no_token_unless_they_talk_to_the_api() -> None:
    for name, spec in all_pods().items():
        expected = name.startswith("DaemonSet/")
        assert spec["automountServiceAccountToken"] is expected, name


def test_pods_carry_scrape_annotations_and_config_checksums() -> None:
    objects = releases()
    specs = {name: spec for o in objects for name, spec in pod_specs(o).items()}
    annotations = {name: ann for o in objects for name, ann in pod_annotations(o).items()}
    assert set(annotations) == set(specs)
    for name, ann in annotations.items():
        assert ann["prometheus.io/scrape"] in {"true", "false"}, name
        if ann["prometheus.io/scrape"] == "true":
            ports = {p["containerPort"] for c in specs[name]["containers"] for p in c.get("ports", [])}
            assert int(ann["prometheus.io/port"]) in ports, name
        assert "checksum/config" in ann, name
    # Kibana has no Prometheus endpoint: it says so rather than failing a scrape.
    assert annotations["Deployment/logging-kibana"]["prometheus.io/scrape"] == "false"


def test_no_secret_rendered_anywhere() -> None:
    for objects in (logging_(), log_agent(), logging_({"agent": {"enabled": True}})):
        assert not find(objects, "Secret")
        for spec in pod_specs(objects).values():
            for container in containers(spec):
                for env in container.get("env", []):
                    if re.search(r"PASS|SECRET|TOKEN", env["name"]):
                        assert "valueFrom" in env, env


def test_network_policies_per_workload_with_their_ports() -> None:
    def ports(objects):
        return {p["metadata"]["name"]: sorted(x["port"] for x in p["spec"]["ingress"][0]["ports"])
                for p in find(objects, "NetworkPolicy")}
    assert ports(logging_()) == {"logging-elasticsearch": [9114, 9200], "logging-kibana": [5601]}
    assert ports(log_agent()) == {"log-agent-logging-agent": [2020]}
    assert not find(logging_({"networkPolicy": {"enabled": False}}), "NetworkPolicy")


def test_services_match_the_contract() -> None:
    objects = logging_()
    for name, port in (("logging-elasticsearch", 9200), ("logging-kibana", 5601)):
        assert [p["port"] for p in find(objects, "Service", name)[0]["spec"]["ports"]] == [port]
