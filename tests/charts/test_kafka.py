"""charts/kafka rendered by the real helm: KRaft settings, derived replication, topics, safety."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from edgeai import catalog, helm, paths
from tests.charts.conftest import assert_requests_and_limits, assert_restricted, find, pod_specs, render

NS = "edgeai-kafka"
THREE_NODES = {"global": {"nodeCount": 3}, "brokers": 3}
PLATFORM_TOPICS = set(catalog.TOPICS)
INTERNAL_RF_KEYS = ("default.replication.factor", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor",
                    "share.coordinator.state.topic.replication.factor")
INTERNAL_ISR_KEYS = ("min.insync.replicas", "transaction.state.log.min.isr",
                     "share.coordinator.state.topic.min.isr")


def kafka(values: dict[str, Any] | None = None, namespace: str = NS) -> list[dict[str, Any]]:
    return render("kafka", values, namespace=namespace)


def properties(text: str) -> dict[str, str]:
    """A Java .properties file as a dict (the subset the chart writes: key=value lines)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in out, f"{key} set twice"
            out[key.strip()] = value.strip()
    return out


def server_properties(objects: list[dict[str, Any]]) -> dict[str, str]:
    return properties(find(objects, "ConfigMap", "kafka")[0]["data"]["server.properties"])


def statefulset(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "StatefulSet", "kafka")[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


# --- replication follows the broker count --------------------------------------------------

@pytest.mark.parametrize(("values", "rf", "isr"), [
    ({}, 1, 1),
    (THREE_NODES, 3, 2),
    ({"brokers": 2}, 2, 1),
    ({"brokers": 5, "global": {"nodeCount": 5}}, 3, 2),
    ({**THREE_NODES, "replicationFactor": 2}, 2, 1),
    ({**THREE_NODES, "minInsyncReplicas": 1}, 3, 1),
])
def test_replication_and_internal_topic_factors_are_derived(values, rf, isr) -> None:
    props = server_properties(kafka(values))
    for key in INTERNAL_RF_KEYS:
        assert props[key] == str(rf), key
    for key in INTERNAL_ISR_KEYS:
        assert props[key] == str(isr), key
    assert props["unclean.leader.election.enable"] == "false"


def test_replication_factor_over_brokers_fails_with_a_clear_message() -> None:
    with pytest.raises(helm.HelmError, match=r"replicationFactor 3 is greater than brokers 1"):
        kafka({"replicationFactor": 3})


def test_min_insync_over_replication_factor_fails_with_a_clear_message() -> None:
    with pytest.raises(helm.HelmError, match=r"minInsyncReplicas 3 is greater than replicationFactor 2"):
        kafka({"brokers": 2, "minInsyncReplicas": 3})


def test_extra_config_cannot_override_a_derived_setting() -> None:
    assert server_properties(kafka({"extraConfig": {"log.segment.bytes": 104857600}}))[
        "log.segment.bytes"] == "104857600"
    with pytest.raises(helm.HelmError, match=r"extraConfig.min.insync.replicas is set by the chart"):
        kafka({"extraConfig": {"min.insync.replicas": 1}})


# --- KRaft quorum ------------------------------------------------------------------------------

@pytest.mark.parametrize("brokers", [1, 3])
def test_every_broker_is_a_combined_voter_on_the_headless_service(brokers: int) -> None:
    objects = kafka({"brokers": brokers, "global": {"nodeCount": brokers}})
    props = server_properties(objects)
    assert props["process.roles"] == "broker,controller"
    voters = props["controller.quorum.voters"].split(",")
    assert voters == [f"{i}@kafka-{i}.kafka-headless.{NS}.svc:9093" for i in range(brokers)]
    assert props["listeners"] == "CLIENT://:9092,CONTROLLER://:9093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"].startswith("/var/lib/kafka/data/")
    sts = statefulset(objects)
    assert sts["spec"]["replicas"] == brokers
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["serviceName"] == "kafka-headless"
    headless = find(objects, "Service", "kafka-headless")[0]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    client = find(objects, "Service", "kafka")[0]["spec"]
    assert [p["port"] for p in client["ports"]] == [9092]


def test_start_script_formats_once_and_adds_per_node_settings() -> None:
    script = find(kafka(), "ConfigMap", "kafka")[0]["data"]["start.sh"]
    assert "kafka-storage.sh format" in script and "--ignore-formatted" in script
    assert '--cluster-id "$KAFKA_CLUSTER_ID"' in script
    assert 'node.id=${ordinal}' in script and "advertised.listeners=CLIENT://" in script
    assert "exec /opt/kafka/bin/kafka-server-start.sh" in script
    command = statefulset(kafka())["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["/bin/bash", "/etc/kafka/edgeai/start.sh"]


def cluster_id(objects: list[dict[str, Any]]) -> str:
    return env_of(statefulset(objects)["spec"]["template"]["spec"]["containers"][0])["KAFKA_CLUSTER_ID"]


def test_cluster_id_is_a_stable_kafka_uuid_per_release() -> None:
    first = cluster_id(kafka({"global": {"site": "fra-store-001"}}))
    assert first == cluster_id(kafka({"global": {"site": "fra-store-001"}}))
    # Kafka's Uuid.fromString: base64url without padding that decodes to exactly 16 bytes.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", first)
    assert len(base64.urlsafe_b64decode(first + "==")) == 16
    assert base64.urlsafe_b64encode(base64.urlsafe_b64decode(first + "==")).rstrip(b"=").decode() == first
    assert cluster_id(kafka({"global": {"site": "fra-store-002"}})) != first
    assert cluster_id(kafka({"global": {"site": "fra-store-001"}}, namespace="other")) != first
    assert cluster_id(kafka({"clusterId": "MkU3OEVBNTcwNTJENDM2Qk"})) == "MkU3OEVBNTcwNTJENDM2Qk"


# --- storage, probes, security -----------------------------------------------------------------

def test_each_broker_gets_a_persistent_volume_of_the_site_storage_class() -> None:
    sts = statefulset(kafka({"global": {"storageClass": "local-path"}, "persistence": {"size": "20Gi"}}))
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "local-path"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    broker = sts["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in broker["volumeMounts"]}
    assert mounts["data"] == "/var/lib/kafka/data"
    default_claim = statefulset(kafka())["spec"]["volumeClaimTemplates"][0]["spec"]
    assert "storageClassName" not in default_claim  # cluster default


def test_long_running_containers_probe_ports_they_expose() -> None:
    values = {**THREE_NODES, "mirrorMaker": {"enabled": True, "targetBootstrap": "cloud.example:9093"}}
    checked = 0
    for where, spec in pod_specs(kafka(values)).items():
        if where.startswith("Job/"):
            continue
        for c in spec["containers"]:
            ports = {p["name"] for p in c["ports"]} | {p["containerPort"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                assert c[probe]["tcpSocket"]["port"] in ports, f"{where}/{c['name']} {probe}"
            checked += 1
    assert checked == 3  # broker, exporter, mirror maker


def test_every_container_runs_restricted_with_requests_and_limits() -> None:
    values = {**THREE_NODES, "auth": {"enabled": True},
              "mirrorMaker": {"enabled": True, "targetBootstrap": "cloud.example:9093"}}
    objects = kafka(values)
    assert_restricted(objects)
    assert_requests_and_limits(objects)
    for where, spec in pod_specs(objects).items():
        assert spec["automountServiceAccountToken"] is False, where
    broker = statefulset(kafka())["spec"]["template"]["spec"]
    assert broker["securityContext"]["runAsUser"] == 1000  # appuser of apache/kafka
    assert broker["securityContext"]["fsGroup"] == 1000
    assert {v["name"] for v in broker["volumes"]} >= {"tmp", "config"}


def test_pdb_and_topology_spread_only_with_several_brokers() -> None:
    single = kafka()
    assert find(single, "PodDisruptionBudget") == []
    assert "topologySpreadConstraints" not in statefulset(single)["spec"]["template"]["spec"]
    three = kafka(THREE_NODES)
    (pdb,) = find(three, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "broker"
    assert statefulset(three)["spec"]["template"]["spec"]["topologySpreadConstraints"]


def test_network_policies_list_the_served_ports() -> None:
    policies = {p["metadata"]["name"]: p for p in find(kafka({"networkPolicy": {
        "enabled": True, "ingressNamespaces": ["edgeai-siddhi"]}}), "NetworkPolicy")}
    ports = {name: sorted(p["port"] for p in pol["spec"]["ingress"][0].get("ports", []))
             for name, pol in policies.items()}
    assert ports["kafka-broker"] == [9092, 9093]
    assert ports["kafka-exporter"] == [9308]
    froms = policies["kafka-broker"]["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edgeai-siddhi"}}} in froms


# --- topics ------------------------------------------------------------------------------------

def topics_job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "Job", "kafka-topics")[0]


@pytest.mark.parametrize(("values", "rf", "isr"), [({}, 1, 1), (THREE_NODES, 3, 2)])
def test_platform_topics_are_created_idempotently_with_the_derived_factors(values, rf, isr) -> None:
    objects = kafka(values)
    job = topics_job(objects)
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert "before-hook-creation" in job["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    script = find(objects, "ConfigMap", "kafka-topics")[0]["data"]["topics.sh"]
    assert "--create --if-not-exists" in script
    assert f"--replication-factor {rf} " in script
    declared = {name: configs for name, _, configs in
                re.findall(r'^ensure_topic "([^"]+)" (\d+) "([^"]*)"$', script, re.M)}
    assert set(declared) == PLATFORM_TOPICS
    for topic_configs in declared.values():
        assert f"min.insync.replicas={isr}" in topic_configs


def test_topic_retention_is_rendered_in_milliseconds() -> None:
    script = find(kafka({"topics": [{"name": "t1", "partitions": 2, "retentionHours": 2},
                                    {"name": "t2", "partitions": 1}]}), "ConfigMap", "kafka-topics")[0]
    lines = [line for line in script["data"]["topics.sh"].splitlines() if line.startswith("ensure_topic ")]
    assert lines == ['ensure_topic "t1" 2 "min.insync.replicas=1,retention.ms=7200000"',
                     'ensure_topic "t2" 1 "min.insync.replicas=1"']


def test_adding_a_topic_does_not_roll_the_brokers() -> None:
    def checksum(objects):
        return statefulset(objects)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    base = kafka()
    more = kafka({"topics": [{"name": "extra", "partitions": 1}]})
    assert checksum(base) == checksum(more)
    assert checksum(base) != checksum(kafka({"logRetentionHours": 24}))


def test_topic_names_are_validated_and_unique() -> None:
    with pytest.raises(helm.HelmError, match="topics/0/name"):
        kafka({"topics": [{"name": "bad name; rm -rf /", "partitions": 1}]})
    with pytest.raises(helm.HelmError, match='topic "a" is declared twice'):
        kafka({"topics": [{"name": "a", "partitions": 1}, {"name": "a", "partitions": 2}]})


# --- metrics, auth, mirror maker ---------------------------------------------------------------

def test_kafka_exporter_exposes_consumer_lag_to_prometheus() -> None:
    (dep,) = find(kafka(), "Deployment", "kafka-exporter")
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "9308",
                           "prometheus.io/path": "/metrics"}
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert "--kafka.server=kafka:9092" in c["args"]
    assert c["image"] == "docker.io/danielqsj/kafka-exporter:v1.9.0"


def test_images_are_pinned_and_follow_the_registry_mirror() -> None:
    objects = kafka({"global": {"imageRegistry": "mirror.local:5000"}})
    images = {c["image"] for spec in pod_specs(objects).values() for c in spec["containers"]}
    assert images == {"mirror.local:5000/edgeai-platform/kafka:4.1.1",
                      "mirror.local:5000/danielqsj/kafka-exporter:v1.9.0"}


def test_auth_is_off_by_default_and_reads_credentials_from_a_secret() -> None:
    default = server_properties(kafka())
    assert default["listener.security.protocol.map"] == "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    objects = kafka({"auth": {"enabled": True, "existingSecret": "kafka-auth"}})
    props = server_properties(objects)
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert props["sasl.mechanism.inter.broker.protocol"] == "PLAIN"
    assert find(objects, "Secret") == []
    broker_env = env_of(statefulset(objects)["spec"]["template"]["spec"]["containers"][0])
    assert broker_env["KAFKA_SASL_PASSWORD"] == {"secretKeyRef": {"name": "kafka-auth", "key": "password"}}
    exporter = find(objects, "Deployment", "kafka-exporter")[0]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(exporter)["SASL_USER_PASSWORD"] == broker_env["KAFKA_SASL_PASSWORD"]
    assert not any("password" in a for a in exporter["args"])


def test_mirror_maker_is_off_by_default() -> None:
    objects = kafka()
    assert find(objects, "Deployment", "kafka-mirror-maker") == []
    assert find(objects, "ConfigMap", "kafka-mirror-maker") == []


def test_mirror_maker_replicates_platform_topics_to_the_cloud() -> None:
    objects = kafka({"global": {"site": "fra-store-001"}, "mirrorMaker": {
        "enabled": True, "targetBootstrap": "kafka.cloud.example:9093",
        "targetAuth": {"enabled": True, "existingSecret": "kafka-cloud"}}})
    data = find(objects, "ConfigMap", "kafka-mirror-maker")[0]["data"]
    props = properties(data["mirror-maker.properties"])
    assert props["clusters"] == "fra-store-001,cloud"
    assert props["fra-store-001.bootstrap.servers"] == "kafka:9092"
    assert props["cloud.bootstrap.servers"] == "kafka.cloud.example:9093"
    assert props["fra-store-001->cloud.enabled"] == "true"
    assert props["cloud->fra-store-001.enabled"] == "false"
    assert props["fra-store-001->cloud.topics"] == "|".join(catalog.TOPICS)
    assert props["cloud.security.protocol"] == "SASL_SSL"
    # The herd whose group lives on the cloud resumes as soon as the uplink returns (a worker setting
    # reaches a herd only with its target's prefix; tests/realengines/test_mirror_engine.py).
    assert props["cloud.scheduled.rebalance.max.delay.ms"] == "0"
    assert props["cloud.offset.flush.interval.ms"] == "5000"   # bounds the replay after a cut
    assert "jaas" not in data["mirror-maker.properties"]  # credentials are added at start from env
    (dep,) = find(objects, "Deployment", "kafka-mirror-maker")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["/bin/bash", "/etc/kafka/edgeai/mirror-maker.sh"]
    assert env_of(c)["TARGET_PASSWORD"] == {"secretKeyRef": {"name": "kafka-cloud", "key": "password"}}
    assert "exec /opt/kafka/bin/connect-mirror-maker.sh" in data["mirror-maker.sh"]


def test_mirror_maker_trusts_a_private_ca_of_the_cloud_kafka_when_given_one() -> None:
    base = {"enabled": True, "targetBootstrap": "kafka.cloud.example:9093", "targetAuth": {"enabled": True}}
    public = find(kafka({"mirrorMaker": base}), "ConfigMap", "kafka-mirror-maker")[0]["data"]
    assert "truststore" not in public["mirror-maker.properties"] and "target-ca.crt" not in public
    ca = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
    objects = kafka({"mirrorMaker": {**base, "targetAuth": {"enabled": True, "trustedCA": ca}}})
    data = find(objects, "ConfigMap", "kafka-mirror-maker")[0]["data"]
    props = properties(data["mirror-maker.properties"])
    assert props["cloud.ssl.truststore.type"] == "PEM"
    # The ConfigMap is mounted at /etc/kafka/edgeai: the CA file is its key target-ca.crt.
    assert props["cloud.ssl.truststore.location"] == "/etc/kafka/edgeai/target-ca.crt"
    assert data["target-ca.crt"] == ca
    with pytest.raises(helm.HelmError, match="trustedCA"):
        kafka({"mirrorMaker": {**base, "targetAuth": {"enabled": True, "trustedCA": "not a certificate"}}})


def test_mirror_maker_needs_a_target() -> None:
    with pytest.raises(helm.HelmError, match="mirrorMaker.targetBootstrap"):
        kafka({"mirrorMaker": {"enabled": True}})


# --- external listener (devices over SASL_SSL, SCRAM users, quotas) ---------------------------

EXTERNAL = {"external": {"enabled": True, "service": {"type": "NodePort", "nodePort": 30093},
                         "advertisedHosts": ["192.0.2.10"], "quota": {"requestPercentage": 50},
                         "users": [{"name": "line-3-plc", "quota": {"producerByteRate": 65536}},
                                   {"name": "gw-7"}]},
            "networkPolicy": {"exposedTo": ["192.0.2.0/24"]}}


def test_external_listener_is_sasl_ssl_with_scram_and_pem_from_the_secret() -> None:
    objects = kafka({**THREE_NODES, **EXTERNAL})
    props = server_properties(objects)
    assert props["listeners"] == "CLIENT://:9092,CONTROLLER://:9093,EXTERNAL://:9094"
    assert props["listener.security.protocol.map"] == "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:SASL_SSL"
    assert props["inter.broker.listener.name"] == "CLIENT"
    assert props["listener.name.external.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.external.ssl.keystore.type"] == "PEM"
    start = find(objects, "ConfigMap", "kafka")[0]["data"]["start.sh"]
    # Each broker advertises the node address at its own node port.
    assert 'external_advertised=("192.0.2.10:30093" "192.0.2.10:30094" "192.0.2.10:30095")' in start
    assert "EXTERNAL://${external_advertised[$ordinal]}" in start
    c = statefulset(objects)["spec"]["template"]["spec"]["containers"][0]
    assert env_of(c)["KAFKA_EXTERNAL_TLS_KEY"] == {"secretKeyRef": {"name": "kafka-external-tls", "key": "tls.key"}}
    assert {"name": "external", "containerPort": 9094} in c["ports"]
    # One Service per broker, selecting its pod, on consecutive node ports.
    for i in range(3):
        (svc,) = find(objects, "Service", f"kafka-external-{i}")
        assert svc["spec"]["type"] == "NodePort"
        assert svc["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == f"kafka-{i}"
        assert svc["spec"]["ports"] == [{"name": "sasl-ssl", "port": 9094, "targetPort": "external",
                                         "protocol": "TCP", "nodePort": 30093 + i}]
    # The broker's NetworkPolicy admits 9094 from the declared networks only.
    (policy,) = find(objects, "NetworkPolicy", "kafka-broker")
    exposed = [r for r in policy["spec"]["ingress"] if any("ipBlock" in f for f in r["from"])]
    assert exposed == [{"from": [{"ipBlock": {"cidr": "192.0.2.0/24"}}], "ports": [{"protocol": "TCP", "port": 9094}]}]


def test_external_users_and_quotas_come_from_values_passwords_from_the_secret() -> None:
    objects = kafka(EXTERNAL)
    script = find(objects, "ConfigMap", "kafka-topics")[0]["data"]["topics.sh"]
    assert 'ensure_user "line-3-plc" "producer_byte_rate=65536,request_percentage=50" "consumer_byte_rate"' in script
    assert 'ensure_user "gw-7" "request_percentage=50" "producer_byte_rate,consumer_byte_rate"' in script
    assert "--add-config-file /tmp/scram.properties" in script
    (job,) = find(objects, "Job", "kafka-topics")
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert env_of(c)["KAFKA_EXTERNAL_USERS"] == {"secretKeyRef": {"name": "kafka-external-users", "key": "users"}}
    assert not find(objects, "Secret")


def test_external_off_renders_nothing_of_it() -> None:
    objects = kafka()
    assert "EXTERNAL" not in find(objects, "ConfigMap", "kafka")[0]["data"]["server.properties"]
    assert not [o for o in objects if o["metadata"]["name"].startswith("kafka-external")]
    assert "ensure_user" not in find(objects, "ConfigMap", "kafka-topics")[0]["data"]["topics.sh"]


def test_external_load_balancer_advertises_one_host_per_broker() -> None:
    ext = {**EXTERNAL["external"], "service": {"type": "LoadBalancer", "port": 9093},
           "advertisedHosts": ["k0.site.example", "k1.site.example", "k2.site.example"]}
    objects = kafka({**THREE_NODES, **EXTERNAL, "external": ext})
    start = find(objects, "ConfigMap", "kafka")[0]["data"]["start.sh"]
    assert 'external_advertised=("k0.site.example:9093" "k1.site.example:9093" "k2.site.example:9093")' in start
    (svc,) = find(objects, "Service", "kafka-external-2")
    assert svc["spec"]["type"] == "LoadBalancer" and "nodePort" not in svc["spec"]["ports"][0]


@pytest.mark.parametrize(("external", "match"), [
    ({"advertisedHosts": []}, "external.advertisedHosts"),
    ({"service": {"type": "NodePort"}}, "needs external.service.nodePort"),
    ({"service": {"type": "LoadBalancer"}}, "one address per broker"),
    ({"advertisedHosts": ["a", "b"]}, "2 entries for 3 brokers"),
    ({"users": [{"name": "x"}, {"name": "x"}]}, "declared twice"),
])
def test_external_misconfigurations_fail_the_render(external, match) -> None:
    with pytest.raises(helm.HelmError, match=match):
        kafka({**THREE_NODES, **EXTERNAL, "external": {**EXTERNAL["external"], **external}})


def test_external_needs_exposed_to() -> None:
    with pytest.raises(helm.HelmError, match="exposedTo"):
        kafka({"external": EXTERNAL["external"]})


# --- schema ------------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    {"brokerz": 3},
    {"kafkaExporter": {"enabeld": False}},
    {"mirrorMaker": {"targetAuth": {"user": "x"}}},
    {"topics": [{"name": "t", "partitions": 1, "replicas": 3}]},
    {"persistence": {"size": "10Gi", "storageClass": "x"}},
])
def test_schema_rejects_unknown_keys_at_every_level(values) -> None:
    with pytest.raises(helm.HelmError, match="additional properties"):
        kafka(values)


def test_schema_rejects_a_moving_image_tag_and_zero_brokers() -> None:
    with pytest.raises(helm.HelmError):
        kafka({"image": {"repository": "apache/kafka", "tag": "latest"}})
    with pytest.raises(helm.HelmError, match="brokers"):
        kafka({"brokers": 0})


@pytest.mark.parametrize("values", [None, THREE_NODES])
def test_lint_strict_passes(values) -> None:
    helm.lint(paths.CHARTS / "kafka", values)
