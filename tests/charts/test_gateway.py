"""charts/gateway rendered by the real helm; its nginx.conf checked by the real nginx when installed."""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeai import helm, paths
from tests.charts.conftest import assert_requests_and_limits, assert_restricted, find, free_port, render

CHART = "gateway"
NGINX = shutil.which("nginx")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
API_KEY = "k3y-For.edge+gateway/TEST=="
INTERNAL_KEY = "cep-internal-key-0123456789"

IRIS_CANARY = {
    "model": "iris",
    "service": "iris.edgeai-models.svc",
    "canary": {"service": "iris-canary.edgeai-models.svc", "weight": 10},
}
ANOMALY = {"model": "sensor-anomaly", "service": "sensor-anomaly.edgeai-models.svc", "canary": None}


def render_gateway(vals: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render(CHART, vals or {}, release="gateway", namespace="edgeai-gateway")


def config_of(objects: list[dict[str, Any]]) -> dict[str, str]:
    (cm,) = find(objects, "ConfigMap", "gateway")
    return cm["data"]


def nginx_conf(vals: dict[str, Any] | None = None) -> str:
    return config_of(render_gateway(vals))["nginx.conf"]


def deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (dep,) = find(objects, "Deployment", "gateway")
    return dep


# --- a small reader of the rendered nginx.conf -----------------------------------------------------


def blocks(conf: str, head: str) -> dict[str, list[tuple[str, str]]]:
    """`<head> <source> $var { a b; ... }` blocks (split_clients, map) → {var: [(key, value), ...]}."""
    found = {}
    pattern = re.compile(rf"^\s*{head}\s+(\S+)\s+\$(\w+)\s*\{{(.*?)\}}", re.S | re.M)
    for _source, var, body in pattern.findall(conf):
        entries = []
        for line in body.strip().splitlines():
            line = line.strip().rstrip(";")
            if line and not line.startswith("#"):
                key, _, value = line.partition(" ")
                entries.append((key.strip('"'), value.strip().strip('"')))
        found[var] = entries
    return found


def location(conf: str, match: str) -> str:
    """Body of `location <match> { ... }` (one level of nested braces)."""
    m = re.search(rf"location {re.escape(match)} \{{((?:[^{{}}]|\{{[^{{}}]*\}})*)\}}", conf)
    assert m, f"no location {match}"
    return m.group(1)


def server(conf: str, listen: str) -> str:
    """The server block whose first listen directive starts with `listen`."""
    parts = conf.split("    server {")[1:]
    for part in parts:
        if re.search(rf"^\s*listen {re.escape(listen)}\b", part, re.M):
            return part
    raise AssertionError(f"no server listening on {listen}")


# --- routing ---------------------------------------------------------------------------------------


def test_default_routes_are_empty_and_only_health_is_served():
    conf = nginx_conf()
    rest = server(conf, "8080")
    assert "location = /v2/health/live" in rest and "location = /v2/health/ready" in rest
    assert "proxy_pass" not in conf and "split_clients" not in conf
    assert blocks(conf, "map")["edgeai_grpc_target"] == [("default", "")]


def test_canary_route_splits_requests_by_weight_between_the_two_services():
    conf = nginx_conf({"routes": [IRIS_CANARY, ANOMALY]})
    split = blocks(conf, "split_clients")
    assert split == {
        "edgeai_route_iris": [
            ("10%", "iris-canary.edgeai-models.svc.cluster.local"),
            ("*", "iris.edgeai-models.svc.cluster.local"),
        ]
    }
    assert 'split_clients "${request_id}" $edgeai_route_iris' in conf
    maps = blocks(conf, "map")
    assert maps["edgeai_route_sensor_anomaly"] == [
        ("default", "sensor-anomaly.edgeai-models.svc.cluster.local")
    ]
    rest = server(conf, "8080")
    for match in ("= /v2/models/iris", "/v2/models/iris/"):
        assert "proxy_pass http://$edgeai_route_iris:8080;" in location(rest, match)
    assert "proxy_pass http://$edgeai_route_sensor_anomaly:8080;" in location(
        rest, "/v2/models/sensor-anomaly/"
    )


@pytest.mark.parametrize(
    "weight,expected",
    [
        (0, "iris.edgeai-models.svc.cluster.local"),
        (100, "iris-canary.edgeai-models.svc.cluster.local"),
    ],
)
def test_canary_weight_0_and_100_send_everything_one_way(weight, expected):
    route = copy.deepcopy(IRIS_CANARY)
    route["canary"]["weight"] = weight
    conf = nginx_conf({"routes": [route]})
    assert "split_clients" not in conf
    assert blocks(conf, "map")["edgeai_route_iris"] == [("default", expected)]


def test_grpc_is_http2_and_routed_by_the_x_model_name_header():
    conf = nginx_conf({"routes": [IRIS_CANARY, ANOMALY]})
    grpc = server(conf, "8081")
    assert re.search(r"^\s*listen 8081 http2\b", grpc, re.M)
    assert blocks(conf, "map")["edgeai_grpc_target"] == [
        ("default", ""),
        ("iris", "$edgeai_route_iris"),
        ("sensor-anomaly", "$edgeai_route_sensor_anomaly"),
    ]
    assert "map $http_x_model_name $edgeai_grpc_target" in conf
    root = location(grpc, "/")
    assert "grpc_pass grpc://$edgeai_grpc_target:8081;" in root
    assert "error_page 404 = @grpc_unknown_model;" in root


def test_fqdn_and_ip_services_are_used_as_given_and_cluster_domain_is_configurable():
    routes = [
        {"model": "a", "service": "a.edgeai-models.svc.edge.local"},
        {"model": "b", "service": "10.0.0.7"},
        {"model": "c", "service": "c.edgeai-models.svc"},
    ]
    maps = blocks(nginx_conf({"routes": routes, "clusterDomain": "edge.local"}), "map")
    assert [maps[f"edgeai_route_{m}"][0][1] for m in "abc"] == [
        "a.edgeai-models.svc.edge.local",
        "10.0.0.7",
        "c.edgeai-models.svc.edge.local",
    ]


def test_duplicate_routes_are_refused():
    with pytest.raises(helm.HelmError, match="listed twice"):
        render_gateway({"routes": [ANOMALY, ANOMALY]})


# --- auth, limits ----------------------------------------------------------------------------------


def test_auth_is_on_by_default_without_any_key_in_the_rendered_objects():
    objects = render_gateway({"routes": [IRIS_CANARY]})
    conf = config_of(objects)["nginx.conf"]
    assert not find(objects, "Secret")
    assert "include /etc/nginx/generated/api-keys.map;" in conf
    assert "include /etc/nginx/generated/api-grants.map;" in conf
    for match in ("= /v2/models/iris", "/v2/models/iris/"):
        assert "auth_request /_edgeai/auth;" in location(server(conf, "8080"), match)
    assert "auth_request /_edgeai/auth;" in location(server(conf, "8081"), "/")
    assert "auth_request" not in location(server(conf, "8080"), "= /v2/health/ready")
    spec = deployment(objects)["spec"]["template"]["spec"]
    keys = next(v for v in spec["volumes"] if v["name"] == "api-keys")["secret"]
    assert keys["secretName"] == "gateway-api-keys"
    assert keys["items"] == [{"key": "keys", "path": "keys"}, {"key": "internal-keys", "path": "internal-keys"}]
    (init,) = spec["initContainers"]
    assert {"name": "API_KEYS_FILE", "value": "/etc/nginx/api-keys/keys"} in init["env"]
    assert {"name": "INTERNAL_KEYS_FILE", "value": "/etc/nginx/api-keys/internal-keys"} in init["env"]
    nginx = next(c for c in spec["containers"] if c["name"] == "nginx")
    # nginx's container watches the Secret (mounted whole, so that the kubelet updates it).
    mount = next(m for m in nginx["volumeMounts"] if m["name"] == "api-keys")
    assert mount["mountPath"] == "/etc/nginx/api-keys" and "subPath" not in mount
    # The model servers never see the client's key.
    assert 'proxy_set_header Authorization "";' in conf and 'grpc_set_header X-Api-Key "";' in conf


def test_auth_can_be_switched_off():
    objects = render_gateway({"routes": [IRIS_CANARY], "auth": {"enabled": False}})
    conf = config_of(objects)["nginx.conf"]
    assert "auth_request" not in conf and "include /etc/nginx/generated/api-keys.map" not in conf
    spec = deployment(objects)["spec"]["template"]["spec"]
    assert "api-keys" not in {v["name"] for v in spec["volumes"]}
    assert "API_KEYS_FILE" not in {e["name"] for e in spec["initContainers"][0]["env"]}


def test_key_rotation_reloads_nginx_without_anything_derived_from_the_keys_in_the_manifest():
    objects = render_gateway()
    annotations = deployment(objects)["spec"]["template"]["metadata"]["annotations"]
    assert set(annotations) == {"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path", "checksum/config"}
    nginx = next(c for c in deployment(objects)["spec"]["template"]["spec"]["containers"] if c["name"] == "nginx")
    assert nginx["command"] == ["/bin/sh", "/etc/nginx/edgeai/run-nginx.sh"]
    env = {e["name"]: e["value"] for e in nginx["env"]}
    assert env["WATCH_FILES"] == "/etc/nginx/api-keys/keys /etc/nginx/api-keys/internal-keys"
    assert env["RELOAD_INTERVAL"] == "10"
    with pytest.raises(helm.HelmError):   # the old way (a hash of the keys in the pod template) is gone
        render_gateway({"auth": {"keysChecksum": "sha256:abc"}})


def test_rate_limit_is_configured_per_client_and_apart_for_internal_keys():
    conf = nginx_conf({"routes": [IRIS_CANARY], "rateLimit": {"requestsPerSecond": 25, "burst": 50,
                                                              "internal": {"requestsPerSecond": 900, "burst": 1800}}})
    assert "limit_req_zone $edgeai_client_limit_key zone=edgeai_clients:10m rate=25r/s;" in conf
    # Per caller (the key's holder), per address only without a known key.
    assert blocks(conf, "map")["edgeai_client_limit_key"] == [
        ("client", "caller:$edgeai_caller"), ("internal", ""), ("default", "$binary_remote_addr")]
    assert "limit_req_zone $edgeai_internal_limit_key zone=edgeai_internal:1m rate=900r/s;" in conf
    assert "limit_req_status 429;" in conf
    for guarded in (location(server(conf, "8080"), "/v2/models/iris/"), location(server(conf, "8081"), "/")):
        assert "limit_req zone=edgeai_clients burst=50 nodelay;" in guarded
        assert "limit_req zone=edgeai_internal burst=1800 nodelay;" in guarded
    # Without internal keys one zone; without auth (no callers) one per-address zone.
    plain = nginx_conf({"routes": [IRIS_CANARY], "auth": {"internalSecretKey": ""}})
    assert "limit_req_zone $edgeai_client_limit_key zone=edgeai_clients:10m rate=100r/s;" in plain
    assert "edgeai_internal" not in plain
    plain = nginx_conf({"routes": [IRIS_CANARY], "auth": {"enabled": False}})
    assert "limit_req_zone $binary_remote_addr zone=edgeai_clients:10m rate=100r/s;" in plain
    assert "edgeai_internal" not in plain
    off = nginx_conf({"routes": [IRIS_CANARY], "rateLimit": {"enabled": False}})
    assert "limit_req" not in off


def run_render_includes(script: str, tmp_path: Path, keys: str | None,
                        internal: str | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "render.sh").write_text(script)
    (tmp_path / "resolv.conf").write_text("search edgeai-gateway.svc.cluster.local\nnameserver 10.96.0.10\n")
    env = {**os.environ, "OUT_DIR": str(tmp_path / "out"), "RESOLV_CONF": str(tmp_path / "resolv.conf")}
    if keys is not None:
        (tmp_path / "keys").write_text(keys)
        env["API_KEYS_FILE"] = str(tmp_path / "keys")
    if internal is not None:
        (tmp_path / "internal-keys").write_text(internal)
        env["INTERNAL_KEYS_FILE"] = str(tmp_path / "internal-keys")
    return subprocess.run(
        ["sh", str(tmp_path / "render.sh")], env=env, capture_output=True, text=True, check=False
    )


def test_init_script_turns_the_key_file_into_an_anchored_case_sensitive_map(tmp_path):
    script = config_of(render_gateway())["render-includes.sh"]
    result = run_render_includes(script, tmp_path, f"# ops keys\n{API_KEY}\n\n  second-key-0123456789 \r\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "resolver.conf").read_text() == "resolver 10.96.0.10 valid=10s;\n"
    assert (tmp_path / "out" / "api-keys.map").read_text().splitlines() == [
        r'"~^k3y-For\.edge\+gateway/TEST==$" "client:client-2";',
        '"~^second-key-0123456789$" "client:client-4";',
    ]
    # A key alone (the format before callers) may call every model.
    assert (tmp_path / "out" / "api-grants.map").read_text().splitlines() == [
        '"~^client-2:" 1;', '"~^client-4:" 1;']
    assert "2 API key(s)" in result.stdout and API_KEY not in result.stdout + result.stderr


def test_init_script_marks_the_internal_keys_in_the_same_map(tmp_path):
    script = config_of(render_gateway())["render-includes.sh"]
    result = run_render_includes(script, tmp_path, f"{API_KEY}\n", internal=f"{INTERNAL_KEY}\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "api-keys.map").read_text().splitlines() == [
        r'"~^k3y-For\.edge\+gateway/TEST==$" "client:client-1";',
        '"~^cep-internal-key-0123456789$" "internal:internal-1";',
    ]
    assert "1 API key(s) and 1 internal key(s)" in result.stdout
    bad = run_render_includes(script, tmp_path, f"{API_KEY}\n", internal="short\n")
    assert bad.returncode == 1 and "line 1 of" in bad.stderr and "internal-keys" in bad.stderr


@pytest.mark.parametrize("bad", ['has"quote-0123456789', "tiny-key", "key-0123456789abcdef Alice",
                                 "key-0123456789abcdef alice iris,", "key-0123456789abcdef alice a b",
                                 "key-0123456789abcdef alice ../iris"])
def test_init_script_refuses_unsafe_or_weak_keys(tmp_path, bad):
    script = config_of(render_gateway())["render-includes.sh"]
    result = run_render_includes(script, tmp_path, f"{API_KEY}\n{bad}\n")
    assert result.returncode == 1
    assert "line 2" in result.stderr and bad.split()[0] not in result.stderr
    assert not (tmp_path / "out" / "api-keys.map").exists(), "no half-written map"


# --- pod, service, objects -------------------------------------------------------------------------


def test_pod_is_restricted_with_probes_metrics_and_writable_tmp():
    objects = render_gateway({"routes": [ANOMALY]})
    assert_restricted(objects)
    assert_requests_and_limits(objects)
    dep = deployment(objects)
    spec = dep["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsUser"] == 101
    containers = [*spec["initContainers"], *spec["containers"]]
    assert [c["name"] for c in containers] == ["render-includes", "nginx", "exporter"]
    for c in containers:
        assert ":latest" not in c["image"]
        if c["name"] != "render-includes":
            declared = {p["name"] for p in c["ports"]} | {p["containerPort"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                assert c[probe]["httpGet"]["port"] in declared
    nginx, exporter = spec["containers"]
    assert nginx["image"] == "ghcr.io/edgeai-platform/nginx:1.22.1"   # images/nginx
    assert nginx["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert nginx["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert {m["mountPath"] for m in nginx["volumeMounts"]} >= {"/tmp", "/etc/nginx/generated"}
    assert exporter["image"] == "ghcr.io/edgeai-platform/nginx-exporter:0.11.0"
    assert "--nginx.scrape-uri=http://127.0.0.1:8090/stub_status" in exporter["args"]
    assert [p["containerPort"] for p in exporter["ports"]] == [9113]
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert (ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]) == (
        "true",
        "9113",
        "/metrics",
    )
    assert "checksum/config" in ann
    status = server(config_of(objects)["nginx.conf"], "127.0.0.1:8090")
    assert "stub_status;" in status


def test_service_is_cluster_ip_named_gateway_unless_exposed_explicitly():
    (svc,) = find(render_gateway(), "Service")
    assert svc["metadata"]["name"] == "gateway" and svc["spec"]["type"] == "ClusterIP"
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"http": 8080, "grpc": 8081}
    assert all("nodePort" not in p for p in svc["spec"]["ports"])
    exposed = {"service": {"type": "NodePort", "nodePorts": {"http": 30080}},
               "networkPolicy": {"exposedTo": ["192.168.10.0/24"]}}   # who may call it on the nodes
    internal, external = find(render_gateway(exposed), "Service")
    assert internal["metadata"]["name"] == "gateway" and internal["spec"]["type"] == "ClusterIP"
    # Outside the cluster only the TLS listeners (tests/charts/test_gateway_tls.py).
    assert external["metadata"]["name"] == "gateway-external" and external["spec"]["type"] == "NodePort"
    assert [(p["name"], p["targetPort"], p.get("nodePort")) for p in external["spec"]["ports"]] == [
        ("https", "https", 30080), ("grpcs", "grpcs", None)]


def test_network_policy_ports_and_egress_to_models():
    objects = render_gateway({"networkPolicy": {"enabled": True, "egressNamespaces": ["edgeai-models"]}})
    (np,) = find(objects, "NetworkPolicy")
    assert [p["port"] for p in np["spec"]["ingress"][0]["ports"]] == [8080, 8081, 9113]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edgeai-models"}}} in np[
        "spec"
    ]["egress"][1]["to"]


def test_replicas_pdb_and_optional_hpa():
    objects = render_gateway()
    assert deployment(objects)["spec"]["replicas"] == 1
    assert not find(objects, "PodDisruptionBudget") and not find(objects, "HorizontalPodAutoscaler")
    assert find(render_gateway({"replicas": 2}), "PodDisruptionBudget")
    objects = render_gateway({"replicas": 2, "autoscaling": {"enabled": True, "maxReplicas": 4}})
    (hpa,) = find(objects, "HorizontalPodAutoscaler", "gateway")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert "replicas" not in deployment(objects)["spec"]


@pytest.mark.parametrize(
    "vals",
    [
        {"route": []},
        {"routes": [{**ANOMALY, "weight": 10}]},
        {"routes": [{**IRIS_CANARY, "canary": {"service": "x.edgeai-models.svc", "weight": 101}}]},
        {"routes": [{**IRIS_CANARY, "canary": {"service": "x.edgeai-models.svc", "weight": -5}}]},
        {"routes": [{**IRIS_CANARY, "canary": {"service": "x.edgeai-models.svc"}}]},
        {"routes": [{"model": "iris", "service": "http://iris:8080"}]},
        {"auth": {"enabled": True, "keys": ["inline-keys-are-not-accepted"]}},
        {"rateLimit": {"requestsPerSecond": 0}},
        {"service": {"type": "ExternalName"}},
        {"image": {"repository": "nginxinc/nginx-unprivileged", "tag": "latest"}},
    ],
    ids=[
        "unknown-top-key",
        "unknown-route-key",
        "weight-over-100",
        "negative-weight",
        "canary-without-weight",
        "service-with-scheme",
        "inline-keys",
        "zero-rate",
        "bad-service-type",
        "latest-tag",
    ],
)
def test_schema_rejects_bad_values(vals):
    with pytest.raises(helm.HelmError):
        render_gateway(vals)


def test_lint_strict():
    helm.lint(paths.CHARTS / CHART)
    helm.lint(paths.CHARTS / CHART, {"routes": [IRIS_CANARY, ANOMALY], "replicas": 2})


# --- the real nginx --------------------------------------------------------------------------------


def local_config(cm: dict[str, str], root: Path, ports: dict[str, int] | None = None) -> Path:
    """The rendered config with its pod paths moved under `root` (and, for a live run, its listen
    ports moved to free loopback ports); the includes rendered by the chart's own init script."""
    for sub in ("generated", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub).chmod(0o777)  # nginx workers run as nobody when the test runs as root
    conf = (
        cm["nginx.conf"].replace("/tmp/", f"{root}/run/").replace("/etc/nginx/generated", f"{root}/generated")
    )
    if ports:
        conf = conf.replace("listen 8080 ", f"listen 127.0.0.1:{ports['http']} ")
        conf = conf.replace("listen 8081 ", f"listen 127.0.0.1:{ports['grpc']} ")
        conf = conf.replace("listen 127.0.0.1:8090;", f"listen 127.0.0.1:{ports['status']};")
    (root / "nginx.conf").write_text(conf)
    (root / "render.sh").write_text(cm["render-includes.sh"])
    (root / "keys").write_text(f"{API_KEY}\n")
    (root / "internal-keys").write_text(f"{INTERNAL_KEY}\n")
    env = {**os.environ, "OUT_DIR": str(root / "generated"), "API_KEYS_FILE": str(root / "keys"),
           "INTERNAL_KEYS_FILE": str(root / "internal-keys")}
    subprocess.run(["sh", str(root / "render.sh")], env=env, check=True, capture_output=True)
    return root / "nginx.conf"


def nginx_test(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-e", "stderr"], capture_output=True, text=True, check=False
    )


@needs_nginx
@pytest.mark.parametrize(
    "vals",
    [
        {},
        {"routes": [IRIS_CANARY, ANOMALY]},
        {"routes": [{**IRIS_CANARY, "canary": {"service": "iris-canary.edgeai-models.svc", "weight": 0}}]},
        {"routes": [{**IRIS_CANARY, "canary": {"service": "iris-canary.edgeai-models.svc", "weight": 100}}]},
        {"routes": [IRIS_CANARY], "auth": {"enabled": False}, "rateLimit": {"enabled": False}},
    ],
    ids=["defaults", "canary-10", "canary-0", "canary-100", "no-auth-no-limit"],
)
def test_nginx_accepts_the_rendered_config(tmp_path, vals):
    conf = local_config(config_of(render_gateway(vals)), tmp_path)
    result = nginx_test(conf)
    assert result.returncode == 0, result.stderr


class Backend(http.server.BaseHTTPRequestHandler):
    """A stand-in model server: answers with its name and the credentials it was sent."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps(
            {
                "server": self.server.name,
                "path": self.path,  # type: ignore[attr-defined]
                "authorization": self.headers.get("Authorization"),
                "x-api-key": self.headers.get("X-Api-Key"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def backends(port: int) -> Iterator[None]:
    """`stable` on 127.0.0.1:<port> and `canary` on 127.0.0.2:<port>."""
    servers = []
    for name, host in (("stable", "127.0.0.1"), ("canary", "127.0.0.2")):
        srv = http.server.ThreadingHTTPServer((host, port), Backend)
        srv.name = name  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    try:
        yield
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()


@contextlib.contextmanager
def running_gateway(vals: dict[str, Any], root: Path) -> Iterator[dict[str, Any]]:
    ports = {"http": free_port(), "grpc": free_port(), "status": free_port()}
    conf = local_config(config_of(render_gateway(vals)), root, ports)
    log = (root / "access.log").open("w")
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-e", "stderr", "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/v2/health/ready", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((root / "access.log").read_text()) from None
                time.sleep(0.1)
        yield {"ports": ports, "log": root / "access.log"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def call(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any] | str]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=b'{"inputs": []}', method="POST", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@needs_nginx
def test_real_nginx_serves_health_auth_canary_split_and_rate_limit(tmp_path):
    upstream = free_port()
    route = {"model": "iris", "service": "127.0.0.1", "canary": {"service": "127.0.0.2", "weight": 30}}
    vals = {
        "routes": [route],
        "upstream": {"httpPort": upstream, "grpcPort": upstream},
        "rateLimit": {"enabled": False},
    }
    with backends(upstream), running_gateway(vals, tmp_path) as gw:
        http_port = gw["ports"]["http"]
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v2/health/live") as resp:
            assert resp.status == 200
        status, body = call(http_port, "/v2/models/iris/infer")
        assert status == 401 and "API key" in body
        assert call(http_port, "/v2/models/iris/infer", {"x-api-key": API_KEY.upper()})[0] == 401
        assert call(http_port, "/v2/models/iris/infer", {"x-api-key": API_KEY.replace(".", "x")})[0] == 401
        status, body = call(http_port, "/v2/models/iris/infer", {"Authorization": f"Bearer {API_KEY}"})
        assert status == 200 and body["path"] == "/v2/models/iris/infer"
        assert body["authorization"] is None and body["x-api-key"] is None, "keys are not forwarded"
        assert call(http_port, "/v2/models/other/infer", {"x-api-key": API_KEY})[0] == 404
        servers = [
            call(http_port, "/v2/models/iris/infer", {"x-api-key": API_KEY})[1]["server"] for _ in range(300)
        ]
        canary = servers.count("canary")
        assert 50 <= canary <= 130, f"30% of 300 requests expected on the canary, got {canary}"
        assert servers.count("stable") == 300 - canary


@needs_nginx
def test_real_nginx_answers_429_over_the_per_client_rate(tmp_path):
    upstream = free_port()
    vals = {
        "routes": [{"model": "iris", "service": "127.0.0.1"}],
        "upstream": {"httpPort": upstream},
        "rateLimit": {"requestsPerSecond": 1, "burst": 2},
    }
    with backends(upstream), running_gateway(vals, tmp_path) as gw:
        codes = [
            call(gw["ports"]["http"], "/v2/models/iris/infer", {"x-api-key": API_KEY})[0] for _ in range(10)
        ]
    assert codes[:3] == [200, 200, 200]
    assert codes.count(429) >= 5, codes


@needs_nginx
def test_real_nginx_limits_internal_keys_apart_from_clients(tmp_path):
    upstream = free_port()
    vals = {
        "routes": [{"model": "iris", "service": "127.0.0.1"}],
        "upstream": {"httpPort": upstream},
        "rateLimit": {"requestsPerSecond": 1, "burst": 2, "internal": {"requestsPerSecond": 1, "burst": 20}},
    }
    with backends(upstream), running_gateway(vals, tmp_path) as gw:
        port = gw["ports"]["http"]
        clients = [call(port, "/v2/models/iris/infer", {"x-api-key": API_KEY})[0] for _ in range(10)]
        # Same address, the client budget spent: the internal key still has its own.
        internal = [call(port, "/v2/models/iris/infer", {"x-api-key": INTERNAL_KEY})[0] for _ in range(25)]
    assert clients.count(429) >= 5, clients
    assert internal[:20] == [200] * 20 and internal.count(429) >= 3, internal


@needs_nginx
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl (HTTP/2 cleartext client) is not installed")
def test_real_nginx_routes_grpc_by_model_header_and_answers_grpc_errors(tmp_path):
    upstream = free_port()  # nothing listens there: a routed call ends in UNAVAILABLE, after auth
    vals = {"routes": [{"model": "iris", "service": "127.0.0.2"}], "upstream": {"grpcPort": upstream}}

    def grpc_status(port: int, *headers: str) -> str:
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-i",
                "--http2-prior-knowledge",
                "-X",
                "POST",
                "-H",
                "content-type: application/grpc",
                *[arg for h in headers for arg in ("-H", h)],
                f"http://127.0.0.1:{port}/inference.GRPCInferenceService/ModelInfer",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
        assert out.startswith("HTTP/2 200"), out
        return re.search(r"^grpc-status: (\d+)", out, re.M).group(1)

    with running_gateway(vals, tmp_path) as gw:
        port = gw["ports"]["grpc"]
        assert grpc_status(port, "x-model-name: nope", f"x-api-key: {API_KEY}") == "5"  # NOT_FOUND
        assert grpc_status(port, "x-model-name: iris") == "16"  # UNAUTHENTICATED
        assert (
            grpc_status(port, "x-model-name: iris", f"authorization: Bearer {API_KEY}") == "14"
        )  # UNAVAILABLE
        time.sleep(0.2)
        upstreams = [
            json.loads(line)["upstream"]
            for line in gw["log"].read_text().splitlines()
            if line.startswith("{")
        ]
    assert f"127.0.0.2:{upstream}" in upstreams


# --- the query API route (charts/redis `query`) --------------------------------------------------

QUERY = {"query": {"service": "redis-query.edgeai-redis.svc"}}


def test_query_route_exists_only_with_a_service_and_is_guarded_like_the_models():
    assert "/v1/query/" not in nginx_conf()
    conf = nginx_conf(QUERY)
    route = location(conf, "/v1/query/")
    assert 'set $edgeai_model "@query";' in route
    assert 'set $edgeai_query_host "redis-query.edgeai-redis.svc.cluster.local";' in route
    assert "auth_request /_edgeai/auth;" in route and "limit_req zone=edgeai_clients" in route
    assert "proxy_pass http://$edgeai_query_host:8080;" in route
    assert "error_page 403 = @edgeai_query_403;" in route
    # the plain in-cluster listener and the TLS one share the server block that holds the route
    assert "/v1/query/" in server(conf, "8080")


def test_init_script_grants_the_query_api_by_at_query_and_refuses_other_at_grants(tmp_path):
    script = config_of(render_gateway())["render-includes.sh"]
    keys = f"{API_KEY} dashboard @query\nkey-0123456789abcdef ops iris,@query\n"
    result = run_render_includes(script, tmp_path, keys)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "api-grants.map").read_text().splitlines() == [
        '"dashboard:@query" 1;', '"ops:@query" 1;', '"ops:iris" 1;']
    bad = run_render_includes(script, tmp_path, f"{API_KEY} dashboard @admin\n")
    assert bad.returncode == 1 and "unknown @ grant" in bad.stderr
