"""The `local` site on a real kind cluster: every container runs, data moves, policies hold.

One cluster for the session (tests/e2e/conftest.py): `edgeai up --env local`, images from the site
registry, the node image built here. Each test says what it proves on real containers.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from tests.e2e import gateway_client as gw
from tests.e2e.kindsite import MODEL, PROMETHEUS, eventually

pytestmark = pytest.mark.e2e

SITE_NAMESPACES = ("edgeai-kafka", "edgeai-redis", "edgeai-models", "edgeai-gateway", "edgeai-siddhi",
                   "edgeai-monitoring")
SPIKE = [60.0, 20.0, 250.0, 80.0, 250.0]     # [avg, min, max, stddev, last]: the model scores 1.0
NORMAL = [21.0, 20.0, 22.0, 0.8, 21.0]


def _restarts(pod) -> int:
    return sum(c.get("restartCount", 0) for c in pod["status"].get("containerStatuses", []))


def _serving(site) -> list[dict]:
    """The site's long-running pods: not a Job's (Kafka's topics Job runs again as Argo CD's PostSync
    hook after every sync, and is done in seconds)."""
    return [p for ns in SITE_NAMESPACES for p in site.pods(ns)
            if not any(o.get("kind") == "Job" for o in p["metadata"].get("ownerReferences", []))]


def test_every_pod_runs_with_its_containers_ready_and_none_restarts(site):
    def settled():
        pods = _serving(site)
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        ready = [p for p in running if all(c.get("ready") for c in p["status"].get("containerStatuses", []))]
        return pods and len(ready) == len(running) and all(
            p["status"].get("phase") in ("Running", "Succeeded") for p in pods) and ready
    ready = eventually("every site pod Running and Ready", settled, 300)
    time.sleep(20)   # restarts after settling are what this test is about
    pods = [p for p in _serving(site) if p["status"].get("phase") == "Running"]
    assert {p["metadata"]["name"] for p in pods} == {p["metadata"]["name"] for p in ready}
    assert {p["metadata"]["namespace"] for p in pods} == set(SITE_NAMESPACES)
    restarted = {p["metadata"]["name"]: _restarts(p) for p in pods if _restarts(p)}
    assert not restarted, f"containers restarted: {restarted}"
    for p in pods:   # started for real: a container ID and a start time from the kubelet
        for c in p["status"]["containerStatuses"]:
            assert c["containerID"].startswith("containerd://") and c["state"]["running"]["startedAt"]
            assert c["imageID"], f"{p['metadata']['name']}/{c['name']} has no image digest"
        for c in p["spec"]["containers"]:   # from the site registry, pinned by the digest it serves
            assert c["image"].startswith("localhost:5001/edgeai-platform/") and "@sha256:" in c["image"], c["image"]


def test_a_prediction_through_the_gateway_from_the_host(site):
    # The gateway's node ports speak TLS only (tests/e2e/test_on_demand.py covers the rest of it).
    path = f"/v2/models/{MODEL}/infer"
    status, body = eventually("the gateway answers from the host",
                              lambda: (r := gw.rest(site, path, gw.infer_body(SPIKE), site.api_key))[0] == 200
                              and r, 120)
    assert body["model_name"] == "sensor-anomaly" and body["model_version"] == "v3"
    assert body["outputs"][0]["data"][0] == pytest.approx(1.0)
    status, body = gw.rest(site, path, gw.infer_body(NORMAL), site.api_key)
    assert status == 200 and body["outputs"][0]["data"][0] == pytest.approx(0.0)
    assert gw.rest(site, path, gw.infer_body(SPIKE))[0] == 401                       # no key
    assert gw.rest(site, path, gw.infer_body(SPIKE), "not-a-key")[0] == 401


def test_kafka_produces_and_consumes_in_the_cluster_with_the_rendered_settings(site):
    topic_key = f"e2e-{uuid.uuid4().hex[:8]}"
    records = [(topic_key, json.dumps({"sensorId": topic_key, "value": 20.0 + i})) for i in range(20)]
    acks = site.produce("sensor-events", records, "acks=all")
    assert len(acks) == 20 and all(a.startswith("ack ") for a in acks), acks
    got = [v for k, v in site.consume("sensor-events", 25) if k == topic_key]
    assert got == [v for _, v in records]


def test_redis_refuses_clients_without_the_password(site):
    pod = site.pod("edgeai-redis", "app.kubernetes.io/name=redis")
    # The pod's env holds REDISCLI_AUTH (its probes use it): a client without it is refused.
    out = site.exec("edgeai-redis", pod, "env", "-u", "REDISCLI_AUTH", "redis-cli", "-h", "127.0.0.1", "ping",
                    check=False)
    assert "NOAUTH" in out
    password = site.secrets["redisPassword"]
    out = site.exec("edgeai-redis", pod, "sh", "-c", "REDISCLI_AUTH=\"$(cat)\" redis-cli -h 127.0.0.1 ping",
                    stdin=password)
    assert out.strip() == "PONG"


def test_the_cep_app_consumes_sensor_events_and_emits_alerts(site):
    sensor = f"e2e-spike-{uuid.uuid4().hex[:6]}"
    quiet = f"e2e-quiet-{uuid.uuid4().hex[:6]}"
    events = []
    for tick in range(12):
        events.append((quiet, json.dumps({"sensorId": quiet, "value": 20.0 + tick % 3})))
        events.append((sensor, json.dumps({"sensorId": sensor, "value": 180.0 if tick == 6 else 20.0 + tick % 3})))
    assert all(a.startswith("ack ") for a in site.produce("sensor-events", events, "acks=all"))

    def alerts():
        found = [json.loads(v) for k, v in site.consume("alerts", 20) if k in (sensor, quiet)]
        kinds = {a["event"]["kind"] if "event" in a else a.get("kind") for a in found
                 if (a.get("event", a)).get("sensorId") == sensor}
        return found if {"rule", "model"} <= kinds else None
    found = eventually("rule and model alerts of the spiking sensor on the alerts topic", alerts, 120, 5)
    assert not [a for a in found if a.get("event", a).get("sensorId") == quiet], "an alert for the quiet sensor"


def test_prometheus_scrapes_every_target(site):
    def every_target_up():
        status, body = site.http(PROMETHEUS, "/api/v1/targets")
        active = body["data"]["activeTargets"] if status == 200 else []
        down = [t["scrapeUrl"] for t in active if t["health"] != "up"]
        assert active and not down, f"targets not up: {down or 'none discovered'}"
        # `up` also holds the last sample of a target just removed (a pod of a finished rollout) until
        # Prometheus marks it stale: the site is judged once no series of it says 0.
        status, body = site.http(PROMETHEUS, "/api/v1/query?query=up%20%3D%3D%200")
        assert status == 200, body
        zero = [r["metric"] for r in body["data"]["result"]]
        assert not zero, f"up == 0 for {zero}"
        return active
    active = eventually("every Prometheus target up, no series of up at 0", every_target_up, 420, 5)
    scraped = {t["labels"].get("namespace") for t in active}
    # Kafka's metrics come from kafka_exporter, which is off on `local` (no image buildable here).
    assert {"edgeai-redis", "edgeai-models", "edgeai-gateway", "edgeai-siddhi", "edgeai-monitoring"} <= scraped
    status, body = site.http(PROMETHEUS, "/api/v1/query?query=min(up)")
    assert status == 200 and body["data"]["result"][0]["value"][1] == "1", body


OUTSIDER_NS = "e2e-outsider"
PATHS = {  # what the site's NetworkPolicies guard: (host, port)
    "kafka": ("kafka.edgeai-kafka.svc.cluster.local", 9092),
    "redis": ("redis.edgeai-redis.svc.cluster.local", 6379),
    "model": ("sensor-anomaly.edgeai-models.svc.cluster.local", 8080),
    "gateway": ("gateway.edgeai-gateway.svc.cluster.local", 8080),
}
INTERNAL = ("kafka", "redis", "model")   # the gateway is the site's front door: exposed, behind API keys


def _probe_pod(namespace: str, name: str, image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "probe", "image": image, "command": ["sleep", "600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                                   "limits": {"cpu": "100m", "memory": "64Mi"}},
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}


def _reachable(site, namespace: str, pod: str, host: str, port: int) -> bool:
    # bash's /dev/tcp: a TCP connect, nothing else; `timeout` bounds a dropped SYN.
    out = site.exec(namespace, pod, "timeout", "5", "bash", "-c", f"echo > /dev/tcp/{host}/{port} && echo open",
                    check=False, timeout=30)
    return "open" in out


def test_network_policies_are_enforced(site):
    image = next(c["image"] for p in site.pods("edgeai-redis") for c in p["spec"]["containers"]
                 if c["name"] == "redis")
    site.kubectl.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OUTSIDER_NS}},
                        _probe_pod(OUTSIDER_NS, "outsider", image)])
    try:
        site.kubectl.run("wait", "-n", OUTSIDER_NS, "--for=condition=Ready", "pod/outsider", "--timeout=120s")
        # Without a policy of its own the outsider may connect anywhere: so a refusal is the site's doing.
        for name in INTERNAL:
            assert not _reachable(site, OUTSIDER_NS, "outsider", *PATHS[name]), f"an unlisted namespace reached {name}"
        # The allowed paths, from the pods that own them.
        cep = site.siddhi_pod()
        for name in ("kafka", "redis", "gateway"):
            assert _reachable(site, "edgeai-siddhi", cep, *PATHS[name]), f"the CEP cannot reach {name}"
        assert not _reachable(site, "edgeai-siddhi", cep, *PATHS["model"]), "the CEP bypasses the gateway"
        gateway = site.pod("edgeai-gateway", "app.kubernetes.io/name=gateway")
        assert _reachable(site, "edgeai-gateway", gateway, *PATHS["model"]), "the gateway cannot reach the model"
    finally:
        site.kubectl.run("delete", "namespace", OUTSIDER_NS, "--wait=false", check=False)


def test_a_broker_pod_deleted_mid_stream_loses_no_acknowledged_event(site):
    key = f"e2e-kill-{uuid.uuid4().hex[:6]}"
    records = [(key, json.dumps({"sensorId": key, "value": float(i)})) for i in range(3000)]
    result: dict[str, list[str]] = {}
    producer = threading.Thread(target=lambda: result.setdefault("acks", site.produce(
        "sensor-events", records, "acks=all", "delivery.timeout.ms=180000", "linger.ms=5", timeout=400)))
    producer.start()
    time.sleep(3)
    site.kubectl.run("delete", "pod", "-n", "edgeai-kafka", "kafka-0", "--wait=false")
    producer.join(timeout=420)
    acked = [line for line in result.get("acks", []) if line.startswith("ack ")]
    assert acked, f"no record acknowledged: {result.get('acks', [])[:5]}"
    eventually("kafka-0 Ready again", lambda: site.kubectl.run(
        "wait", "-n", "edgeai-kafka", "--for=condition=Ready", "pod/kafka-0", "--timeout=10s"), 240, 5)
    acked_values = {records[int(line.split()[1])][1] for line in acked}
    stored = {v for k, v in site.consume("sensor-events", 40) if k == key}
    lost = acked_values - stored
    assert not lost, f"{len(lost)} acknowledged records lost of {len(acked_values)}"


def test_every_image_of_the_site_is_built_here_and_what_is_off_is_said(site):
    """The images the pods ran are the ones images/ builds (no image came from anywhere else), and
    the components without a buildable image are off on `local`, as its environment file says."""
    from edgeai import fleet
    from edgeai.images.definitions import definition_for
    from edgeai.images.needed import environment_images
    needed = environment_images("local")
    assert needed and all(definition_for(ref) for ref in needed), needed
    running = {c["image"].split("@")[0] for ns in SITE_NAMESPACES for p in site.pods(ns)   # pinned by digest
               for c in p["spec"].get("initContainers", []) + p["spec"]["containers"]}
    assert running <= set(needed)
    components = fleet.load_fleet(["local"])[0].config["components"]
    # Not run on this site, and why: no image of Grafana or kafka_exporter can be built here.
    assert components["monitoring"]["grafana"]["enabled"] is False
    assert components["kafka"]["kafkaExporter"]["enabled"] is False
    assert not [ref for ref in running if "grafana" in ref or "kafka-exporter" in ref]
