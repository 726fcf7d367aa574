"""charts/gateway on the real nginx (Debian), in front of real MLServers: the 3-node prod site's
rendered gateway (three routes, demand-forecast with a 10% canary) with the rendered model servers
behind it (demand-forecast v12 stable and v13 canary on mlserver-xgboost, sensor-anomaly v3 on
mlserver-sklearn; defect-vision's Triton is not there, so its route answers 503).

Proves: nginx accepts the rendered config (nginx -t); the chart's init script renders the API-key
map; requests without or with a wrong key get 401, unknown models 404; the canary split, measured
by the model_version each real server puts in its V2 answer, is 10% within the
bounds of the binomial (600 requests: 33..87 on the canary, ±3.7 sd); the per-client rate limit
(100 r/s, burst 200) answers 429 past the burst while another client is still served; gRPC
ModelInfer reaches the model by its x-model-name through nginx's HTTP/2 listener.

Adapted for 127.0.0.1 (engines.start_gateway): the listen ports 8080/8081/8090 -> free ports, the
pod paths -> a temporary directory, each model Service DNS name -> a loopback address
(127.0.0.2..5), the fixed upstream ports 8080/8081 -> the MLServers' ports. Overlap:
tests/charts/test_gateway.py runs nginx with chart values (30% canary, stand-in Python backends,
gRPC status codes with no backend); this test uses a site's render and real model servers, and
adds gRPC inference and the 503 of a missing server."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from typing import Any

from tests.realengines import engines, models
from tests.realengines.engines import API_KEY, CEP_API_KEY, LOCAL, PROD_3_NODES

OTHER_MODEL_KEY = "forecast-key-0123456789abcdef"   # may call demand-forecast only

BACKENDS = {  # rendered Service DNS name -> loopback address of its local server
    engines.host_of("model-serving", "demand-forecast"): "127.0.0.2",
    engines.host_of("model-serving", "demand-forecast-canary"): "127.0.0.3",
    engines.host_of("model-serving", "sensor-anomaly"): "127.0.0.4",
    engines.host_of("model-serving", "defect-vision"): "127.0.0.5",   # nothing listens: Triton is not here
}
ROW = [[4.0, 2.0, 1.0]]


def test_nginx_routes_auth_canary_rate_limit_and_grpc_to_real_model_servers(tmp_path) -> None:
    engines.require("nginx", "mlserver")
    site = engines.rendered_site(*PROD_3_NODES)
    http_port, grpc_port = engines.free_port(), engines.free_port()
    with engines.processes() as procs:
        for release, deployment, write, host in (
            ("model-demand-forecast", "demand-forecast", models.demand_forecast(1, 20), "127.0.0.2"),
            ("model-demand-forecast", "demand-forecast-canary", models.demand_forecast(2, 40), "127.0.0.3"),
            ("model-sensor-anomaly", "sensor-anomaly", models.sensor_anomaly, "127.0.0.4"),
        ):
            engines.start_mlserver(site[release], deployment, tmp_path / deployment, procs, write, host=host,
                                   ports={"http_port": http_port, "grpc_port": grpc_port,
                                          "metrics_port": engines.free_port()})
        _, ports = engines.start_gateway(site["gateway"], tmp_path / "gateway", procs, [API_KEY], BACKENDS,
                                         upstream_port=http_port, grpc_upstream_port=grpc_port)
        base = f"http://127.0.0.1:{ports['http']}"
        infer = {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": ROW[0]}]}
        bearer = {"Authorization": f"Bearer {API_KEY}"}

        assert engines.http(f"{base}/v2/health/ready")[0] == 200
        assert engines.http(f"{base}/v2/models/demand-forecast/infer", infer)[0] == 401
        assert engines.http(f"{base}/v2/models/demand-forecast/infer", infer, {"x-api-key": API_KEY + "x"})[0] == 401
        assert engines.http(f"{base}/v2/models/nope/infer", infer, bearer)[0] == 404
        status, answer = engines.http(f"{base}/v2/models/sensor-anomaly/infer",
                                      {"inputs": [{"name": "input-0", "shape": [1, 5], "datatype": "FP64",
                                                   "data": [35.0, 18.0, 180.0, 40.0, 180.0]}]},
                                      {"x-api-key": API_KEY})
        assert status == 200 and answer["outputs"][0]["data"] == [1.0], answer
        assert engines.http(f"{base}/v2/models/defect-vision/infer", infer, bearer)[0] == 503

        # Canary split, from 6 client addresses, paced at 80 requests/s: the key's own budget (rateLimit,
        # 100/s, burst 200) counts every request of this caller whatever its address, and unpaced the
        # 600 outran it on a fast run (429 at CI).
        versions, start = [], time.monotonic()
        for i in range(600):
            time.sleep(max(0.0, start + i / 80 - time.monotonic()))
            status, answer = engines.http(f"{base}/v2/models/demand-forecast/infer", infer, bearer,
                                          source=f"127.0.0.{10 + i % 6}")
            assert status == 200, answer
            assert answer["model_name"] == "demand-forecast"
            versions.append(answer["model_version"])
        canary = versions.count("v13")
        assert versions.count("v12") + canary == 600
        assert 33 <= canary <= 87, f"10% of 600 expected on the canary (v13), got {canary}"

        # Rate limit per client: one address hammering gets 429 past its burst; another is not limited.
        codes = [engines.http(f"{base}/v2/models/sensor-anomaly/infer", infer, source="127.0.0.20")[0]
                 for _ in range(500)]
        assert codes[:150].count(429) == 0 and codes.count(429) >= 100, codes.count(429)
        assert set(codes) == {401, 429}, "limit_req runs before the key check"
        # Known callers have budgets of their own, not their address's: from that same exhausted
        # address a client key is answered, and the CEP's internal key takes a burst of 300 calls (one
        # per sensor of an emission).
        sensor = {"inputs": [{"name": "input-0", "shape": [1, 5], "datatype": "FP64",
                              "data": [20.0, 19.0, 21.0, 0.8, 20.0]}]}
        assert engines.http(f"{base}/v2/models/sensor-anomaly/infer", sensor, {"x-api-key": API_KEY},
                            source="127.0.0.20")[0] == 200
        cep = [engines.http(f"{base}/v2/models/sensor-anomaly/infer", sensor, {"x-api-key": CEP_API_KEY},
                            source="127.0.0.20")[0] for _ in range(300)]
        assert set(cep) == {200}, {c: cep.count(c) for c in set(cep)}
        assert engines.http(f"{base}/v2/models/sensor-anomaly/infer", infer, source="127.0.0.21")[0] == 401

        # gRPC through the gateway's HTTP/2 listener, routed by x-model-name.
        target = f"127.0.0.1:{ports['grpc']}"
        code, reply = models.grpc_infer(target, "sensor-anomaly", API_KEY, [[35.0, 18.0, 180.0, 40.0, 180.0]])
        assert code == 0 and reply["data"] == [1.0] and reply["version"] == "v3", reply
        assert models.grpc_infer(target, "sensor-anomaly", None, [[1.0] * 5])[0] == 16   # UNAUTHENTICATED
        assert models.grpc_infer(target, "nope", API_KEY, [[1.0] * 5])[0] == 5           # NOT_FOUND


def https(port: int, ca: str, path: str, body: Any, key: str | None,
          conn: http.client.HTTPSConnection | None = None) -> tuple[int, Any]:
    """A V2 REST call over TLS (GET without a body), trusting only the gateway's CA; `conn` keeps one
    connection across calls."""
    own = conn is None
    conn = conn or http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                               context=ssl.create_default_context(cafile=ca))
    try:
        conn.request("GET" if body is None else "POST", path,
                     body=None if body is None else json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", **({"x-api-key": key} if key else {})})
        resp = conn.getresponse()
        raw = resp.read().decode()
        return resp.status, json.loads(raw) if raw.startswith("{") else raw
    finally:
        if own:
            conn.close()


def test_local_sites_exposed_gateway_serves_tls_per_model_keys_and_per_caller_limits(tmp_path) -> None:
    """The local site's rendered gateway (exposed on node ports: TLS listeners) in front of the real
    MLServer of sensor-anomaly: predictions over REST and gRPC with TLS, 401 without a key, 403 for a key
    of another model, 429 past one caller's limit while another caller on the same address is served."""
    engines.require("nginx", "mlserver")
    site = engines.rendered_site(*LOCAL)
    with engines.processes() as procs:
        _, model_ports = engines.start_mlserver(site["model-sensor-anomaly"], "sensor-anomaly", tmp_path / "model",
                                                procs, models.sensor_anomaly)
        keys = [f"{API_KEY} host *", f"{OTHER_MODEL_KEY} forecaster demand-forecast"]
        _, ports = engines.start_gateway(site["gateway"], tmp_path / "gateway", procs, keys,
                                         {engines.host_of("model-serving", "sensor-anomaly"): "127.0.0.1"},
                                         upstream_port=model_ports["http_port"],
                                         grpc_upstream_port=model_ports["grpc_port"])
        ca = str(tmp_path / "gateway" / "gateway-tls" / "ca.crt")
        spike = {"inputs": [{"name": "input-0", "shape": [1, 5], "datatype": "FP64",
                             "data": [35.0, 18.0, 180.0, 40.0, 180.0]}]}
        path = "/v2/models/sensor-anomaly/infer"
        status, answer = https(ports["https"], ca, path, spike, API_KEY)
        assert status == 200 and answer["outputs"][0]["data"] == [1.0], answer
        assert https(ports["https"], ca, path, spike, None)[0] == 401
        status, answer = https(ports["https"], ca, path, spike, OTHER_MODEL_KEY)
        assert status == 403, answer
        # In the cluster (the CEP) the plain listener still answers, with the same keys.
        assert engines.http(f"http://127.0.0.1:{ports['http']}{path}", spike, {"x-api-key": API_KEY})[0] == 200

        target = f"127.0.0.1:{ports['grpcs']}"
        code, reply = models.grpc_infer(target, "sensor-anomaly", API_KEY, [[35.0, 18.0, 180.0, 40.0, 180.0]], ca=ca)
        assert code == 0 and reply["data"] == [1.0], reply
        assert models.grpc_infer(target, "sensor-anomaly", OTHER_MODEL_KEY, [[1.0] * 5], ca=ca)[0] == 7
        assert models.grpc_infer(target, "sensor-anomaly", None, [[1.0] * 5], ca=ca)[0] == 16

        # The local limit (100 r/s, burst 200) per caller: one caller past it gets 429 on every
        # request it is refused (none dropped); the CEP's internal key, same address, is still served.
        conn = http.client.HTTPSConnection("127.0.0.1", ports["https"], timeout=10,
                                           context=ssl.create_default_context(cafile=ca))
        codes = [https(ports["https"], ca, "/v2/models/sensor-anomaly/ready", None, API_KEY, conn)[0]
                 for _ in range(1000)]
        conn.close()
        assert set(codes) <= {200, 429} and codes.count(429) >= 50, {c: codes.count(c) for c in set(codes)}
        assert https(ports["https"], ca, path, spike, CEP_API_KEY)[0] == 200
