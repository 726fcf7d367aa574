"""charts/gateway exposed outside the cluster: TLS listeners, per-model keys, per-caller limits, key rotation.

Rendered by the real helm; the live tests run the real nginx with the rendered nginx.conf, started by
the rendered run-nginx.sh (as the pod's nginx container does), a certificate made here with openssl.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeai import helm
from tests.charts.conftest import find, free_port
from tests.charts.test_gateway import (
    ANOMALY,
    IRIS_CANARY,
    backends,
    config_of,
    deployment,
    location,
    render_gateway,
    server,
)

NGINX = shutil.which("nginx")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl (HTTP/2 client) is not installed")
EXPOSED = {"service": {"type": "NodePort", "nodePorts": {"http": 30080, "grpc": 30081}},
           "networkPolicy": {"exposedTo": ["0.0.0.0/0"]}}
ALICE = "alice-key-0123456789abcdef"     # may call iris only
BOB = "bob-key-0123456789abcdef"         # may call every model
CEP = "cep-key-0123456789abcdef"         # internal
KEYS = f"# caller keys\n{ALICE} alice iris\n{BOB} bob *\n"


# --- rendered objects ----------------------------------------------------------------------------


def test_tls_listeners_exist_only_when_the_gateway_is_exposed():
    inside = render_gateway({"routes": [ANOMALY]})
    conf = config_of(inside)["nginx.conf"]
    assert "ssl" not in conf and "8443" not in conf
    spec = deployment(inside)["spec"]["template"]["spec"]
    assert "tls" not in {v["name"] for v in spec["volumes"]}

    objects = render_gateway({"routes": [ANOMALY], **EXPOSED})
    conf = config_of(objects)["nginx.conf"]
    rest, grpc = server(conf, "8080"), server(conf, "8081")
    assert re.search(r"^\s*listen 8443 ssl default_server;", rest, re.M)
    assert re.search(r"^\s*listen 8444 ssl http2 default_server;", grpc, re.M)
    for block in (rest, grpc):
        assert "ssl_certificate /etc/nginx/tls/tls.crt;" in block
        assert "ssl_protocols TLSv1.2 TLSv1.3;" in block
    spec = deployment(objects)["spec"]["template"]["spec"]
    tls = next(v for v in spec["volumes"] if v["name"] == "tls")["secret"]
    assert tls["secretName"] == "gateway-tls"
    nginx = next(c for c in spec["containers"] if c["name"] == "nginx")
    assert {p["name"]: p["containerPort"] for p in nginx["ports"]} == {
        "http": 8080, "grpc": 8081, "https": 8443, "grpcs": 8444}
    mount = next(m for m in nginx["volumeMounts"] if m["name"] == "tls")
    assert mount == {"name": "tls", "mountPath": "/etc/nginx/tls", "readOnly": True}   # no subPath: renewals arrive
    env = {e["name"]: e["value"] for e in nginx["env"]}
    assert env["WATCH_FILES"].split() == ["/etc/nginx/api-keys/keys", "/etc/nginx/api-keys/internal-keys",
                                          "/etc/nginx/tls/tls.crt", "/etc/nginx/tls/tls.key"]
    assert not find(objects, "Secret") and not find(objects, "Certificate")


def test_outside_callers_reach_only_the_tls_ports():
    objects = render_gateway({"routes": [ANOMALY], **EXPOSED})
    (np,) = find(objects, "NetworkPolicy")
    inside, outside = np["spec"]["ingress"]
    assert [p["port"] for p in inside["ports"]] == [8080, 8081, 9113]
    assert "ipBlock" not in json.dumps(inside)
    assert outside["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert [p["port"] for p in outside["ports"]] == [8443, 8444]
    (external,) = find(objects, "Service", "gateway-external")
    assert {p["targetPort"] for p in external["spec"]["ports"]} == {"https", "grpcs"}


def test_cert_manager_certificate_when_the_site_runs_cert_manager():
    vals = {**EXPOSED, "tls": {"secretName": "gateway-acme", "certManager": {
        "enabled": True, "issuerRef": {"name": "site-ca"}, "dnsNames": ["gateway.shop-007.example"],
        "ipAddresses": ["192.168.10.5"]}}}
    objects = render_gateway(vals)
    (cert,) = find(objects, "Certificate", "gateway")
    assert cert["apiVersion"] == "cert-manager.io/v1"
    assert cert["spec"]["secretName"] == "gateway-acme"
    assert cert["spec"]["issuerRef"] == {"name": "site-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert cert["spec"]["dnsNames"] == ["gateway.shop-007.example"]
    assert cert["spec"]["ipAddresses"] == ["192.168.10.5"]
    assert cert["spec"]["privateKey"]["rotationPolicy"] == "Always"
    spec = deployment(objects)["spec"]["template"]["spec"]
    assert next(v for v in spec["volumes"] if v["name"] == "tls")["secret"]["secretName"] == "gateway-acme"
    # Not exposed: no listener to certify.
    assert not find(render_gateway({"tls": vals["tls"]}), "Certificate")


@pytest.mark.parametrize("tls,message", [
    ({"certManager": {"enabled": True, "dnsNames": ["gw.example"]}}, "issuerRef.name"),
    ({"certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}, "dnsNames or ipAddresses"),
    ({"secretName": "Bad_Name"}, "secretName"),
    ({"certManager": {"enabled": True, "issuerRef": {"name": "ca", "kind": "Vault"}}}, "kind"),
])
def test_bad_tls_values_are_refused(tls, message):
    with pytest.raises(helm.HelmError, match=message):
        render_gateway({**EXPOSED, "tls": tls})


def test_model_locations_authorise_the_model_they_route():
    conf = config_of(render_gateway({"routes": [IRIS_CANARY, ANOMALY], **EXPOSED}))["nginx.conf"]
    rest = server(conf, "8080")
    for match in ("= /v2/models/iris", "/v2/models/iris/"):
        body = location(rest, match)
        assert 'set $edgeai_model "iris";' in body and "error_page 403 = @edgeai_403;" in body
    grpc_root = location(server(conf, "8081"), "/")
    assert "set $edgeai_model $http_x_model_name;" in grpc_root   # the header that also picks the upstream
    assert "error_page 403 = @grpc_permission_denied;" in grpc_root
    auth = location(rest, "= /_edgeai/auth")
    assert "return 401;" in auth and "return 403;" in auth
    assert 'map "$edgeai_caller:$edgeai_model" $edgeai_granted' in conf
    assert '"caller":"$edgeai_caller"' in conf and "http_x_api_key\"" not in conf.split("access_log")[0]


# --- the real nginx ------------------------------------------------------------------------------


def make_certificate(directory: Path) -> Path:
    """A self-signed server certificate for 127.0.0.1 (tls.crt, tls.key), as the TLS Secret holds."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt"),
                    "-days", "1", "-subj", "/CN=gateway", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return directory / "tls.crt"


@contextlib.contextmanager
def exposed_gateway(vals: dict[str, Any], root: Path, keys: str = KEYS, internal: str = f"{CEP} cep\n",
                    reload_interval: int = 1) -> Iterator[dict[str, Any]]:
    """The rendered gateway on 127.0.0.1: init script, then run-nginx.sh (nginx + the reload loop)."""
    objects = render_gateway({**vals, **EXPOSED})
    cm = config_of(objects)
    ports = {name: free_port() for name in ("http", "grpc", "https", "grpcs", "status")}
    for sub in ("generated", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub).chmod(0o777)  # nginx workers run as nobody when the test runs as root
    ca = make_certificate(root / "tls")
    conf = (cm["nginx.conf"].replace("/tmp/", f"{root}/run/").replace("/etc/nginx/generated", f"{root}/generated")
            .replace("/etc/nginx/tls", f"{root}/tls"))
    for name, port in (("http", 8080), ("grpc", 8081), ("https", 8443), ("grpcs", 8444)):
        conf = conf.replace(f"listen {port} ", f"listen 127.0.0.1:{ports[name]} ")
    conf = conf.replace("listen 127.0.0.1:8090;", f"listen 127.0.0.1:{ports['status']};")
    (root / "nginx.conf").write_text(conf)
    for script in ("render-includes.sh", "run-nginx.sh"):
        (root / script).write_text(cm[script])
    (root / "keys").write_text(keys)
    (root / "internal-keys").write_text(internal)
    nginx_env = {e["name"]: e["value"] for e in next(
        c for c in deployment(objects)["spec"]["template"]["spec"]["containers"] if c["name"] == "nginx")["env"]}
    local = {"/etc/nginx/api-keys/": f"{root}/", "/etc/nginx/tls/": f"{root}/tls/"}
    watch = nginx_env["WATCH_FILES"]
    for pod_path, here in local.items():
        watch = watch.replace(pod_path, here)
    env = {"PATH": os.environ["PATH"], "OUT_DIR": str(root / "generated"), "API_KEYS_FILE": str(root / "keys"),
           "INTERNAL_KEYS_FILE": str(root / "internal-keys"), "CONF": str(root / "nginx.conf"),
           "RENDER": str(root / "render-includes.sh"), "WATCH_FILES": watch,
           "RELOAD_INTERVAL": str(reload_interval)}
    subprocess.run(["sh", str(root / "render-includes.sh")], env=env, check=True, capture_output=True)
    log = (root / "nginx.log").open("w")
    proc = subprocess.Popen(["sh", str(root / "run-nginx.sh")], env=env, stdout=log, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=str(ca))
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{ports['https']}/v2/health/ready", timeout=1,
                                       context=context)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((root / "nginx.log").read_text()) from None
                time.sleep(0.1)
        yield {"ports": ports, "ca": ca, "context": context, "log": root / "nginx.log", "keys": root / "keys"}
    finally:
        proc.send_signal(signal.SIGTERM)   # as the kubelet stops the container: nginx quits gracefully
        try:
            proc.wait(timeout=15)
        finally:
            log.close()


def call(url: str, key: str | None, context: ssl.SSLContext | None = None) -> tuple[int, Any]:
    headers = {"x-api-key": key} if key else {}
    req = urllib.request.Request(url, data=b'{"inputs": []}', method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@needs_nginx
def test_real_nginx_serves_tls_outside_plain_inside_and_authorises_per_model(tmp_path):
    upstream = free_port()
    vals = {"routes": [{"model": "iris", "service": "127.0.0.1"}, {"model": "sensor-anomaly", "service": "127.0.0.1"}],
            "upstream": {"httpPort": upstream}}
    with backends(upstream), exposed_gateway(vals, tmp_path) as gw:
        https = f"https://127.0.0.1:{gw['ports']['https']}"
        ctx = gw["context"]
        assert call(f"{https}/v2/models/iris/infer", ALICE, ctx)[0] == 200
        status, body = call(f"{https}/v2/models/sensor-anomaly/infer", ALICE, ctx)
        assert status == 403 and "may not call" in body
        assert call(f"{https}/v2/models/sensor-anomaly/infer", BOB, ctx)[0] == 200
        assert call(f"{https}/v2/models/sensor-anomaly/infer", CEP, ctx)[0] == 200      # internal: every model
        assert call(f"{https}/v2/models/iris/infer", None, ctx)[0] == 401
        assert call(f"{https}/v2/models/iris/infer", ALICE[:-1] + "X", ctx)[0] == 401
        # Traversal cannot borrow iris' grant: the location (and so the grant) follows the normalised path.
        assert call(f"{https}/v2/models/iris/../sensor-anomaly/infer", ALICE, ctx)[0] == 403
        # The plain in-cluster listener: same keys and grants.
        plain = f"http://127.0.0.1:{gw['ports']['http']}"
        assert call(f"{plain}/v2/models/iris/infer", ALICE)[0] == 200
        assert call(f"{plain}/v2/models/sensor-anomaly/infer", ALICE)[0] == 403
        # No plain HTTP on the TLS port, and no certificate the client does not trust.
        assert call(f"http://127.0.0.1:{gw['ports']['https']}/v2/models/iris/infer", ALICE)[0] == 400
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(f"{https}/v2/health/ready", timeout=5, context=ssl.create_default_context())
        time.sleep(0.2)
        logged = gw["log"].read_text()
    entries = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert {"alice", "bob", "cep"} <= {e["caller"] for e in entries}
    for key in (ALICE, BOB, CEP):
        assert key not in logged


@needs_nginx
def test_real_nginx_limits_each_caller_apart_even_from_one_address(tmp_path):
    upstream = free_port()
    vals = {"routes": [{"model": "iris", "service": "127.0.0.1"}], "upstream": {"httpPort": upstream},
            "rateLimit": {"requestsPerSecond": 1, "burst": 3}}
    with backends(upstream), exposed_gateway(vals, tmp_path) as gw:
        url = f"https://127.0.0.1:{gw['ports']['https']}/v2/models/iris/infer"
        alice = [call(url, ALICE, gw["context"]) for _ in range(12)]
        bob = [call(url, BOB, gw["context"])[0] for _ in range(4)]     # same address, own budget
    codes = [c for c, _ in alice]
    assert codes[:4] == [200] * 4 and codes.count(429) >= 7, codes
    assert set(codes) == {200, 429}, "every request is answered: refused with 429, never dropped"
    assert "rate limit exceeded" in next(body for c, body in alice if c == 429)
    assert bob == [200] * 4


@needs_nginx
@needs_curl
def test_real_nginx_grpc_over_tls_with_per_model_grants(tmp_path):
    upstream = free_port()   # nothing listens there: an authorised call ends in UNAVAILABLE
    vals = {"routes": [{"model": "iris", "service": "127.0.0.2"}, {"model": "sensor-anomaly", "service": "127.0.0.2"}],
            "upstream": {"grpcPort": upstream}}
    with exposed_gateway(vals, tmp_path) as gw:
        def grpc_status(model: str, key: str | None) -> str:
            out = subprocess.run(
                ["curl", "-s", "-i", "--http2", "--cacert", str(gw["ca"]), "-X", "POST",
                 "-H", "content-type: application/grpc", "-H", f"x-model-name: {model}",
                 *(["-H", f"authorization: Bearer {key}"] if key else []),
                 f"https://127.0.0.1:{gw['ports']['grpcs']}/inference.GRPCInferenceService/ModelInfer"],
                capture_output=True, text=True, check=True, timeout=10).stdout
            assert out.startswith("HTTP/2 200"), out
            return re.search(r"^grpc-status: (\d+)", out, re.M).group(1)

        assert grpc_status("iris", ALICE) == "14"             # authorised: on to the (absent) server
        assert grpc_status("sensor-anomaly", ALICE) == "7"    # PERMISSION_DENIED
        assert grpc_status("iris", None) == "16"              # UNAUTHENTICATED
        assert grpc_status("nope", BOB) == "5"                # NOT_FOUND


@needs_nginx
def test_real_nginx_picks_up_a_key_rotation_and_keeps_the_old_keys_on_a_bad_one(tmp_path):
    upstream = free_port()
    vals = {"routes": [{"model": "iris", "service": "127.0.0.1"}], "upstream": {"httpPort": upstream}}
    carol = "carol-key-0123456789abcdef"
    with backends(upstream), exposed_gateway(vals, tmp_path) as gw:
        url = f"https://127.0.0.1:{gw['ports']['https']}/v2/models/iris/infer"
        assert call(url, carol, gw["context"])[0] == 401
        # Rotation: alice's key replaced by carol's (as the kubelet swaps the Secret's files).
        gw["keys"].write_text(f"{carol} carol iris\n{BOB} bob *\n")
        deadline = time.monotonic() + 15
        while call(url, carol, gw["context"])[0] != 200:
            assert time.monotonic() < deadline, gw["log"].read_text()
            time.sleep(0.3)
        assert call(url, ALICE, gw["context"])[0] == 401
        # A bad rotation is refused; the keys in force stay.
        gw["keys"].write_text(f"{carol} carol iris\nshort\n")
        time.sleep(3)
        assert call(url, carol, gw["context"])[0] == 200 and call(url, BOB, gw["context"])[0] == 200
        log = gw["log"].read_text()
    assert "nginx reloaded" in log and "were refused" in log and "line 2" in log
    assert carol not in log, [line for line in log.splitlines() if carol in line]
