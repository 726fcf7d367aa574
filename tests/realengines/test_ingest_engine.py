"""Device ingest (charts/ingest) on its real engines: Debian's Mosquitto 2.0.11 running the rendered
mosquitto.conf with the device_limits plugin compiled from images/mosquitto/device_limits.c (as the
image's build stage does), the password file made by the rendered init script, the bridge
(edgeai.engines.IngestBridge, the rendered container env) and the local site's Kafka broker; and the
gateway's rendered nginx.conf in front of the bridge for HTTP devices.

Proves: MQTT over TLS (the site CA's certificate) with per-device passwords; a device without or with a
wrong password is refused; a device may publish only under its own name; past its limit an MQTT 5
device's PUBLISH is refused (PUBACK 0x87) and an MQTT 3.1.1 device is disconnected; over HTTPS only a
device key may POST events, never call a model, and past its limit gets 429; every event a device got
acknowledged (PUBACK success / HTTP 200) is in Kafka, keyed by its sensor, and no refused one is.

Host packages (Debian): mosquitto, mosquitto-dev, libmosquitto-dev, gcc; nginx; the Kafka and Siddhi
jars of scripts/install-engines.sh.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from edgeai import paths
from tests.realengines import engines
from tests.realengines.engines import Proc, adapt, config_map, container, env_values, find, free_port

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt (the dev extra) is not installed")
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

PLUGIN_SOURCE = paths.ROOT / "images" / "mosquitto" / "device_limits.c"
DEVICES = {"dev-a": "key-of-dev-a-0123456789", "dev-b": "key-of-dev-b-0123456789",
           "dev-c": "key-of-dev-c-0123456789"}
BRIDGE_PASSWORD = "bridge-password-0123456789"
CLIENT_KEY = "client-key-0123456789abcdef"   # a model caller's key: may not send events
TOPIC = "sensor-events"


def require_mosquitto() -> None:
    missing = [p for p, ok in (("mosquitto", shutil.which("mosquitto")),
                               ("mosquitto_passwd", shutil.which("mosquitto_passwd")),
                               ("gcc", shutil.which("gcc")),
                               ("mosquitto-dev", Path("/usr/include/mosquitto_broker.h").is_file()),
                               ("libmosquitto-dev", Path("/usr/include/mosquitto.h").is_file())) if not ok]
    if missing:
        message = (f"not installed: {', '.join(missing)}; install with: "
                   "apt-get install mosquitto mosquitto-dev libmosquitto-dev gcc")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


class Ingest:
    """Mosquitto + the bridge as the ingest pod runs them, on loopback ports."""

    def __init__(self, objects: list[dict[str, Any]], root: Path, procs: engines.Processes, bootstrap: str) -> None:
        self.root = root
        data = config_map(objects, "ingest")
        self.mqtts, self.local, self.http = free_port(), free_port(), free_port()
        (root / "passwords").mkdir()
        (root / "data").mkdir()
        self.ca = engines.make_server_certificate(root)   # root/gateway-tls: what Secret gateway-tls holds
        plugin = root / "device_limits.so"
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-o", str(plugin),
                        str(PLUGIN_SOURCE)], check=True, capture_output=True, text=True)
        conf = adapt(data["mosquitto.conf"], [
            ("/run/mosquitto/passwords/", f"{root}/passwords/"),
            ("/usr/lib/edgeai/mosquitto/device_limits.so", str(plugin)),
            ("persistence_location /var/lib/mosquitto/", f"persistence_location {root}/data/"),
            ("listener 1883 127.0.0.1", f"listener {self.local} 127.0.0.1"),
            ("listener 8883\n", f"listener {self.mqtts} 127.0.0.1\n"),
            ("/etc/mosquitto/tls/", f"{root}/gateway-tls/"),
        ], "mosquitto.conf")
        (root / "mosquitto.conf").write_text(conf)
        # The init container: device lines (the Secret) -> hashed password file.
        init = container(objects, "Deployment", "ingest", "passwords")
        init_env = env_values(init)
        assert init_env["OUT"] == "/run/mosquitto/passwords/passwords"
        (root / "devices").write_text("# devices of the test\n" + "".join(f"{k} {d}\n" for d, k in DEVICES.items()))
        (root / "bridge-password").write_text(BRIDGE_PASSWORD)
        (root / "make-passwords.sh").write_text(data["make-passwords.sh"])
        made = subprocess.run(["sh", str(root / "make-passwords.sh")], capture_output=True, text=True, check=False,
                              env={"PATH": os.environ["PATH"], "DEVICES_FILE": str(root / "devices"),
                                   "BRIDGE_PASSWORD_FILE": str(root / "bridge-password"),
                                   "OUT": str(root / "passwords" / "passwords")})
        assert made.returncode == 0, made.stderr
        assert f"{len(DEVICES)} device(s)" in made.stdout
        stored = (root / "passwords" / "passwords").read_text()
        assert all(k not in stored for k in DEVICES.values()), "the password file must hold hashes only"
        if os.geteuid() == 0:
            # Started as root, mosquitto drops to user mosquitto (in the pod it runs as uid 1883 from the
            # start, the init container's files its own): the same files, that user's.
            for path in [root, *root.rglob("*")]:
                shutil.chown(path, "mosquitto", "mosquitto")
        self.mosquitto = procs.start(Proc("mosquitto", ["mosquitto", "-c", str(root / "mosquitto.conf")],
                                          root / "mosquitto.log"))
        self.mosquitto.wait_for_port(self.mqtts, 20)
        # The bridge: the rendered container's env, hosts and ports made local.
        bridge = container(objects, "Deployment", "ingest", "bridge")
        env = {k: v for k, v in env_values(bridge).items() if isinstance(v, str)}
        assert env_values(bridge)["MQTT_PASSWORD"] == {"secretKeyRef": {"name": "ingest-bridge", "key": "password"}}
        env.update(PATH=os.environ["PATH"], MQTT_PASSWORD=BRIDGE_PASSWORD, HTTP_PORT=str(self.http),
                   KAFKA_BOOTSTRAP=adapt(env["KAFKA_BOOTSTRAP"],
                                         {"kafka.edgeai-kafka.svc.cluster.local:9092": bootstrap}),
                   MQTT_URL=adapt(env["MQTT_URL"], {"tcp://127.0.0.1:1883": f"tcp://127.0.0.1:{self.local}"}))
        java = ["java", *env["JAVA_OPTS"].split(), "-cp", engines.harness_classpath(), "edgeai.engines.IngestBridge"]
        self.bridge = procs.start(Proc("ingest-bridge", java, root / "bridge.log", env))
        self.bridge.wait_for(lambda: engines.http_status(f"http://127.0.0.1:{self.http}/healthz") == 200,
                             "the bridge connected to Kafka and Mosquitto", 60)

    def client(self, device: str | None, password: str | None = None, protocol: int = paho.MQTTv5,
               tls: bool = True) -> paho.Client:
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{device}-{uuid.uuid4().hex[:6]}", protocol=protocol)
        if device is not None:
            c.username_pw_set(device, password if password is not None else DEVICES[device])
        if tls:
            c.tls_set(ca_certs=self.ca)
        return c


def connect(c: paho.Client, port: int, timeout: float = 10) -> Any:
    """Connect and wait for CONNACK; returns its reason code."""
    result: list[Any] = []
    c.on_connect = lambda _c, _u, _f, rc, _p=None: result.append(rc)
    c.on_disconnect = lambda _c, _u, *args: result.append(args[-2] if len(args) >= 2 else "disconnected")
    c.connect("127.0.0.1", port)
    c.loop_start()
    deadline = time.monotonic() + timeout
    while not result and time.monotonic() < deadline:
        time.sleep(0.02)
    assert result, "no CONNACK"
    return result[0]


def publish_all(c: paho.Client, topic: str, events: list[dict], timeout: float = 30) -> dict[str, str]:
    """PUBLISH every event with QoS 1; returns event id -> the broker's answer ("ok", a refusal reason, or
    "unanswered" when the connection closed first)."""
    answers: dict[int, str] = {}
    disconnected: list[Any] = []
    c.on_publish = lambda _c, _u, mid, rc, _p: answers.__setitem__(mid, "ok" if not rc.is_failure else str(rc))
    c.on_disconnect = lambda _c, _u, _f, rc, _p: disconnected.append(rc)
    mids = {}
    for e in events:
        info = c.publish(topic, json.dumps(e), qos=1)
        mids[e["id"]] = info.mid
        if disconnected:
            break
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not disconnected and len(answers) < len(mids):
        time.sleep(0.02)
    if disconnected:
        time.sleep(0.5)
    c.loop_stop()
    c.disconnect()
    out = {i: answers.get(mid, "unanswered") for i, mid in mids.items()}
    out.update({e["id"]: "unsent" for e in events if e["id"] not in out})
    return out


def events(sensor: str, n: int) -> list[dict]:
    return [{"id": f"{sensor}-{uuid.uuid4().hex[:8]}-{i}", "sensorId": sensor, "value": 20.0 + i % 3,
             "sensorType": "temperature", "timestamp": int(time.time() * 1000)} for i in range(n)]


@pytest.fixture(scope="module")
def ingest(local_site, kafka_local, session_procs) -> Iterator[Ingest]:
    require_mosquitto()
    assert "ingest" in local_site, "the local site declares components.ingest"
    # Not under pytest's 0700 base directory: the broker may run as its own user (see Ingest).
    root = Path(tempfile.mkdtemp(prefix="edgeai-ingest-"))
    root.chmod(0o755)
    yield Ingest(local_site["ingest"], root, session_procs, kafka_local.bootstrap)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def consumer(kafka_local, tmp_path_factory) -> engines.Consumer:
    c = engines.Consumer(kafka_local.bootstrap, TOPIC, tmp_path_factory.mktemp("ingest-consumer") / "consumer.log")
    assert c.assigned.wait(60), "consumer not assigned"
    yield c
    c.close()


def in_kafka(consumer: engines.Consumer, ids: set[str], timeout: float = 30) -> dict[str, engines.Record]:
    found: dict[str, engines.Record] = {}

    def check(records: list[engines.Record]) -> bool:
        for r in records:
            with_id = r.json().get("id")
            if with_id in ids:
                found[with_id] = r
        return set(found) >= ids
    consumer.wait_for(check, f"{len(ids)} events in {TOPIC}", timeout)
    return found


def test_mosquitto_config_is_the_rendered_one(local_site):
    """What the chart renders: TLS only for devices, no anonymous access, the plugin with the site's limits."""
    conf = config_map(local_site["ingest"], "ingest")["mosquitto.conf"]
    assert "allow_anonymous false" in conf and "per_listener_settings false" in conf
    assert "listener 1883 127.0.0.1" in conf
    assert "listener 8883\ncertfile /etc/mosquitto/tls/tls.crt" in conf
    assert "plugin_opt_rate 50\nplugin_opt_burst 100" in conf and f"plugin_opt_topics {TOPIC}" in conf
    (svc,) = find(local_site["ingest"], "Service", "ingest-mqtt")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 30883
    (np,) = find(local_site["kafka"], "NetworkPolicy", "kafka-broker")
    admitted = {f.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                for rule in np["spec"]["ingress"] for f in rule["from"]}
    assert "edgeai-ingest" in admitted, "Kafka admits the bridge"


def test_mqtt_over_tls_lands_in_kafka_keyed_by_sensor(ingest, consumer):
    c = ingest.client("dev-a")
    assert str(connect(c, ingest.mqtts)) == "Success"
    sent = events("sensor-mqtt-1", 30)
    answers = publish_all(c, f"devices/dev-a/{TOPIC}", sent)
    assert set(answers.values()) == {"ok"}, answers
    found = in_kafka(consumer, {e["id"] for e in sent})
    assert {r.key for r in found.values()} == {"sensor-mqtt-1"}
    assert all(r.json() == e for e, r in ((e, found[e["id"]]) for e in sent))


def test_mqtt_refuses_unknown_devices_plain_connections_and_other_devices_topics(ingest):
    assert str(connect(ingest.client(None), ingest.mqtts)) in ("Bad user name or password", "Not authorized")
    assert str(connect(ingest.client("dev-a", "not-the-key-0123456789"), ingest.mqtts)) in (
        "Bad user name or password", "Not authorized")
    plain = ingest.client("dev-a", tls=False)   # MQTT without TLS on the devices' port
    try:
        rc = connect(plain, ingest.mqtts, timeout=5)
    except AssertionError:   # no CONNACK at all
        rc = None
    plain.loop_stop()
    assert str(rc) != "Success", "a device connected without TLS"
    c = ingest.client("dev-a")
    assert str(connect(c, ingest.mqtts)) == "Success"
    answers = publish_all(c, f"devices/dev-b/{TOPIC}", events("spoofed", 1))   # dev-a posing as dev-b
    assert set(answers.values()) == {"Not authorized"}
    c = ingest.client("dev-a")
    assert str(connect(c, ingest.mqtts)) == "Success"
    assert set(publish_all(c, "devices/dev-a/alerts", events("x", 1)).values()) == {"Not authorized"}


def test_mqtt5_device_over_its_limit_is_refused_and_nothing_acknowledged_is_lost(ingest, consumer):
    c = ingest.client("dev-b")
    assert str(connect(c, ingest.mqtts)) == "Success"
    sent = events("sensor-mqtt-burst", 300)   # burst 100, 50/s: a back-to-back 300 must overflow
    started = time.monotonic()
    answers = publish_all(c, f"devices/dev-b/{TOPIC}", sent)
    elapsed = time.monotonic() - started
    accepted = {i for i, a in answers.items() if a == "ok"}
    refused = {i for i, a in answers.items() if a == "Not authorized"}
    assert accepted | refused == set(answers), {a for a in answers.values()}
    assert refused, "a device past its burst must be refused"
    assert 100 <= len(accepted) <= 100 + 50 * elapsed + 5, (len(accepted), elapsed)
    in_kafka(consumer, accepted)
    time.sleep(2)
    leaked = {r.json().get("id") for r in consumer.records} & refused
    assert not leaked, f"{len(leaked)} refused events reached Kafka"
    print(f"\nMQTT 5, 300 back to back: {len(accepted)} acknowledged and in Kafka, {len(refused)} refused "
          f"(PUBACK 0x87) in {elapsed:.2f} s")


def test_mqtt311_device_over_its_limit_is_disconnected(ingest, consumer):
    c = ingest.client("dev-c", protocol=paho.MQTTv311)
    assert str(connect(c, ingest.mqtts)) == "Success"
    c.reconnect_delay_set(60, 60)   # no reconnect within the test: see the disconnect
    sent = events("sensor-mqtt311", 300)
    answers = publish_all(c, f"devices/dev-c/{TOPIC}", sent)
    accepted = {i for i, a in answers.items() if a == "ok"}
    assert "ok" in answers.values() and set(answers.values()) - {"ok"} <= {"unanswered", "unsent"}
    assert len(accepted) < len(sent), "MQTT 3.1.1 past its limit: disconnected, not acknowledged"
    in_kafka(consumer, accepted)
    log = ingest.mosquitto.log.read_text()
    assert "device dev-c is over its limit" in log and "MQTT 3.1.1: disconnected" in log, log[-2000:]


def test_mqtt_throughput(ingest, consumer):
    """Figures: two devices one after the other, 90 events each back to back (inside the burst of 100),
    every one acknowledged and in Kafka."""
    started = time.monotonic()
    ids: set[str] = set()
    for i, device in enumerate(("dev-a", "dev-b")):
        c = ingest.client(device)
        assert str(connect(c, ingest.mqtts)) == "Success"
        time.sleep(2.5)   # the bucket refills after the earlier tests
        sent = events(f"sensor-rate-{i}", 90)
        t0 = time.monotonic()
        answers = publish_all(c, f"devices/{device}/{TOPIC}", sent)
        assert set(answers.values()) == {"ok"}
        ids |= {e["id"] for e in sent}
        print(f"\nMQTT 5 over TLS, QoS 1, one device: 90 events acknowledged in {time.monotonic() - t0:.3f} s")
    in_kafka(consumer, ids)
    assert time.monotonic() - started < 60


# --- HTTP devices through the gateway ------------------------------------------------------------

def start_gateway(objects: list[dict[str, Any]], root: Path, procs: engines.Processes, bridge_port: int,
                  device_lines: str) -> int:
    """The gateway's rendered nginx.conf (TLS listener) with the init script's key maps: client key
    CLIENT_KEY and the device lines (Secret ingest-devices); the ingest route to the local bridge."""
    data = config_map(objects, "gateway")
    https, http, status = free_port(), free_port(), free_port()
    engines.make_server_certificate(root)
    for sub in ("generated", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub).chmod(0o777)
    conf = adapt(data["nginx.conf"], [
        ("/tmp/", f"{root}/run/"), ("/etc/nginx/generated", f"{root}/generated"),
        ("listen 8080 ", f"listen 127.0.0.1:{http} "), ("listen 8081 ", f"listen 127.0.0.1:{free_port()} "),
        ("listen 127.0.0.1:8090;", f"listen 127.0.0.1:{status};"),
        ("/etc/nginx/tls/", f"{root}/gateway-tls/"),
        ("listen 8443 ", f"listen 127.0.0.1:{https} "), ("listen 8444 ", f"listen 127.0.0.1:{free_port()} "),
        ('"ingest.edgeai-ingest.svc.cluster.local"', '"127.0.0.1"'),
        ("proxy_pass http://$edgeai_ingest_host:8080;", f"proxy_pass http://$edgeai_ingest_host:{bridge_port};"),
    ], "nginx.conf")
    (root / "nginx.conf").write_text(conf)
    (root / "render-includes.sh").write_text(data["render-includes.sh"])
    (root / "keys").write_text(f"{CLIENT_KEY} caller-a *\n")
    (root / "devices").write_text(device_lines)
    init_env = env_values(container(objects, "Deployment", "gateway", "render-includes"))
    assert init_env["DEVICE_KEYS_FILE"] == "/etc/nginx/device-keys/devices"
    init = subprocess.run(["sh", str(root / "render-includes.sh")], capture_output=True, text=True, check=False,
                          env={"PATH": os.environ["PATH"], "OUT_DIR": str(root / "generated"),
                               "API_KEYS_FILE": str(root / "keys"), "DEVICE_KEYS_FILE": str(root / "devices")})
    assert init.returncode == 0, init.stderr
    assert f"{device_lines.count(chr(10))} device key(s)" in init.stdout
    nginx = shutil.which("nginx")
    test = subprocess.run([nginx, "-t", "-c", str(root / "nginx.conf"), "-e", "stderr"], capture_output=True,
                          text=True, check=False)
    assert test.returncode == 0, test.stderr
    proc = procs.start(engines.Proc("nginx-ingest", [nginx, "-c", str(root / "nginx.conf"), "-e", "stderr",
                                                     "-g", "daemon off;"], root / "nginx.log"))
    proc.wait_for_port(https, 20)
    return https


@pytest.fixture(scope="module")
def gateway(local_site, ingest, session_procs) -> Iterator[tuple[int, ssl.SSLContext]]:
    engines.require("nginx")
    # Not under pytest's 0700 base directory: nginx's workers (nobody, when the tests run as root) buffer
    # request bodies larger than 16k in its client_temp.
    root = Path(tempfile.mkdtemp(prefix="edgeai-ingest-gateway-"))
    root.chmod(0o755)
    port = start_gateway(local_site["gateway"], root, session_procs, ingest.http,
                         "".join(f"{k} {d}\n" for d, k in DEVICES.items()))
    yield port, ssl.create_default_context(cafile=str(root / "gateway-tls" / "ca.crt"))
    shutil.rmtree(root, ignore_errors=True)


def post(gateway: tuple[int, ssl.SSLContext], path: str, body: Any, key: str | None) -> tuple[int, dict]:
    port, ctx = gateway
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_https_device_events_land_in_kafka(gateway, consumer):
    one = events("sensor-http-1", 1)[0]
    assert post(gateway, f"/v1/events/{TOPIC}", one, DEVICES["dev-a"]) == (200, {"accepted": 1})
    batch = events("sensor-http-2", 200)
    assert post(gateway, f"/v1/events/{TOPIC}", batch, DEVICES["dev-a"]) == (200, {"accepted": 200})
    found = in_kafka(consumer, {one["id"]} | {e["id"] for e in batch})
    assert found[one["id"]].key == "sensor-http-1" and found[batch[0]["id"]].key == "sensor-http-2"


def test_https_refuses_without_a_device_key(gateway):
    body = events("sensor-http-x", 1)[0]
    assert post(gateway, f"/v1/events/{TOPIC}", body, None)[0] == 401
    assert post(gateway, f"/v1/events/{TOPIC}", body, "not-a-known-key-0123456789")[0] == 401
    assert post(gateway, f"/v1/events/{TOPIC}", body, CLIENT_KEY)[0] == 403       # a model caller's key
    assert post(gateway, "/v1/events/alerts", body, DEVICES["dev-a"])[0] == 404    # not an ingest topic
    # A device key calls no model.
    assert post(gateway, "/v2/models/sensor-anomaly/infer", {"inputs": []}, DEVICES["dev-a"])[0] == 403
    assert post(gateway, f"/v1/events/{TOPIC}", [1, 2], DEVICES["dev-a"])[0] == 400


def test_https_device_over_its_limit_gets_429_and_every_200_is_in_kafka(gateway, consumer):
    """20 requests/s, burst 40 per device: 200 requests of one device from 20 threads overflow; another
    device keeps its own budget."""
    sent = events("sensor-http-burst", 200)
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda e: post(gateway, f"/v1/events/{TOPIC}", e, DEVICES["dev-b"])[0], sent))
    elapsed = time.monotonic() - started
    statuses = {e["id"]: code for e, code in zip(sent, codes, strict=True)}
    ok = {i for i, s in statuses.items() if s == 200}
    assert set(statuses.values()) == {200, 429}, set(statuses.values())
    assert 40 <= len(ok) <= 41 + 20 * elapsed, (len(ok), elapsed)
    assert post(gateway, f"/v1/events/{TOPIC}", events("sensor-http-other", 1)[0], DEVICES["dev-c"])[0] == 200
    in_kafka(consumer, ok)
    time.sleep(2)
    leaked = {r.json().get("id") for r in consumer.records} & (set(statuses) - ok)
    assert not leaked, f"{len(leaked)} events answered 429 reached Kafka"
    print(f"\nHTTPS, 200 at once from one device: {len(ok)} accepted (200), {200 - len(ok)} refused (429) "
          f"in {elapsed:.2f} s")
