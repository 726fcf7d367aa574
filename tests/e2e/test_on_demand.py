"""On-demand calls from external systems (issue 11), on the `local` site on kind: the host calls the
gateway's node ports (30080 REST, 30081 gRPC, mapped to 127.0.0.1) as an external system would — over
TLS only, trusting the cluster's own CA — with API keys per caller, per-model authorisation and a
per-caller rate limit; a key rotation reaches the running gateway without a restart.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time

import grpc
import pytest

from tests.e2e import gateway_client as gw
from tests.e2e.kindsite import GATEWAY, HOST, MODEL, eventually

pytestmark = pytest.mark.e2e

SPIKE = [60.0, 20.0, 250.0, 80.0, 250.0]     # the model scores 1.0
NORMAL = [21.0, 20.0, 22.0, 0.8, 21.0]
NAMESPACE, SECRET = "edgeai-gateway", "gateway-api-keys"
# A key added by the rotation test: its caller may call another model only.
RESTRICTED = "e2e-restricted-key-0123456789abcdef"
ROTATION_TIMEOUT = 240      # the kubelet's Secret refresh (~1 min) + the gateway's check (10 s)


def _ready(site) -> tuple[int, object]:
    return eventually("the gateway answers over TLS from the host",
                      lambda: (r := gw.rest(site, f"/v2/models/{MODEL}/infer", gw.infer_body(SPIKE),
                                            site.api_key))[0] == 200 and r, 180)


def test_a_prediction_over_rest_with_tls(site):
    _, body = _ready(site)
    assert body["model_name"] == MODEL and body["outputs"][0]["data"][0] == pytest.approx(1.0)
    status, body = gw.rest(site, f"/v2/models/{MODEL}/infer", gw.infer_body(NORMAL), site.api_key)
    assert status == 200 and body["outputs"][0]["data"][0] == pytest.approx(0.0)


def test_a_prediction_over_grpc_with_tls(site):
    _ready(site)
    code, reply = gw.grpc_infer(site, MODEL, site.api_key, [SPIKE])
    assert code == grpc.StatusCode.OK, reply
    assert reply["model"] == MODEL and reply["data"][0] == pytest.approx(1.0)


def test_the_node_ports_speak_tls_only_with_the_sites_certificate(site):
    _ready(site)
    # Plain HTTP on the TLS port is refused by nginx, never served.
    conn = http.client.HTTPConnection(HOST, GATEWAY, timeout=30)
    conn.request("GET", "/v2/health/ready")
    assert conn.getresponse().status == 400
    conn.close()
    # A client that does not trust the site's CA does not get through.
    with pytest.raises(ssl.SSLCertVerificationError):
        conn = http.client.HTTPSConnection(HOST, GATEWAY, timeout=30, context=ssl.create_default_context())
        conn.request("GET", "/v2/health/ready")


def test_no_key_or_a_wrong_key_gets_401(site):
    _ready(site)
    path, body = f"/v2/models/{MODEL}/infer", gw.infer_body(SPIKE)
    assert gw.rest(site, path, body)[0] == 401
    assert gw.rest(site, path, body, "not-a-key-0123456789abcdef")[0] == 401
    assert gw.grpc_infer(site, MODEL, None, [SPIKE])[0] == grpc.StatusCode.UNAUTHENTICATED


def _keys(site) -> str:
    secret = site.kubectl.get("secret", SECRET, "-n", NAMESPACE)
    return base64.b64decode(secret["data"]["keys"]).decode()


def _set_keys(site, keys: str) -> None:
    # On stdin, never on the command line (process list, error messages).
    patch = json.dumps({"data": {"keys": base64.b64encode(keys.encode()).decode()}})
    site.kubectl.run("patch", "secret", SECRET, "-n", NAMESPACE, "--type", "merge", "--patch-file", "/dev/stdin",
                     stdin=patch)


def _gateway_pods(site) -> dict[str, int]:
    return {p["metadata"]["uid"]: sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses", []))
            for p in site.pods(NAMESPACE) if p["status"].get("phase") == "Running"}


def test_a_key_rotation_reaches_the_running_gateway_and_a_key_for_another_model_gets_403(site):
    """The Secret changes as the site stack would change it: a key whose caller may call another model
    only is added. The gateway picks it up without a restart (same pods, no restarts): 403 on this
    model over REST and gRPC, where it got 401 before. Taking it out again gives 401 again."""
    _ready(site)
    path, body = f"/v2/models/{MODEL}/infer", gw.infer_body(SPIKE)
    original = _keys(site)
    assert RESTRICTED not in original
    assert gw.rest(site, path, body, RESTRICTED)[0] == 401
    pods = _gateway_pods(site)
    try:
        _set_keys(site, original.rstrip("\n") + f"\n{RESTRICTED} e2e-restricted demand-forecast\n")
        status, answer = eventually("the added key known to the gateway (403, no longer 401)",
                                    lambda: (r := gw.rest(site, path, body, RESTRICTED))[0] != 401 and r,
                                    ROTATION_TIMEOUT, 5)
        assert status == 403, answer
        assert gw.grpc_infer(site, MODEL, RESTRICTED, [SPIKE])[0] == grpc.StatusCode.PERMISSION_DENIED
        assert gw.rest(site, path, body, site.api_key)[0] == 200   # the other keys stay in force
        assert _gateway_pods(site) == pods, "the rotation restarted or replaced the gateway"
    finally:
        _set_keys(site, original)
    eventually("the removed key refused again (401)",
               lambda: gw.rest(site, path, body, RESTRICTED)[0] == 401, ROTATION_TIMEOUT, 5)


def test_a_caller_past_its_limit_gets_429_never_a_silent_drop(site):
    """One caller sends faster than its limit (local: 100 r/s, burst 200) over one TLS connection: every
    request is answered, the excess with 429; once it slows down it is served again."""
    _ready(site)
    path = f"/v2/models/{MODEL}/ready"
    conn = gw.connect(site)
    codes: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while codes.count(429) < 20 and time.monotonic() < deadline:
            codes.append(gw.rest(site, path, None, site.api_key, conn)[0])
    finally:
        conn.close()
    counts = {c: codes.count(c) for c in set(codes)}
    assert set(codes) <= {200, 429}, counts
    assert codes.count(429) >= 20, f"no 429 after {len(codes)} requests in 60 s: {counts}"
    time.sleep(3)    # the budget refills at the configured rate
    assert gw.rest(site, path, None, site.api_key)[0] == 200
