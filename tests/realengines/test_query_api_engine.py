"""The real-time query API over Redis (charts/redis `query`: RedisQueryApi of tools/engines/harness) on
real engines, as the local site renders it:

- redis-server started by the rendered start.sh with both Secrets' passwords (redis-auth, and
  redis-query-auth for the read-only ACL user the script creates);
- the query API run by the redis-query Deployment's rendered command and environment (the image's
  classes and lib/ -> the harness compiled here and the Siddhi libs; Redis and its ports -> loopback);
- the gateway's nginx with its rendered /v1/query/ route, API keys and TLS listener in front.

Rows are written the way the CEP app's Redis store writes them (one hash per sensor under
`<table.name>:<sensorId>`, the fields of the app's table definitions, read from the rendered app);
tests/e2e/test_realtime.py checks the same API on kind after real events went through the CEP."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

from tests.charts.test_monitoring import dashboard_exprs, metric_names
from tests.realengines import engines
from tests.realengines.engines import REDIS_PASSWORD

QUERY_PASSWORD = "query-pw-from-the-secret"       # redis-query-auth/password
ALL_MODELS_KEY = "all-models-key-0123456789"      # "<key> ops"        : every model and the query API
QUERY_KEY = "dashboard-key-0123456789ab"          # "<key> dashboard @query": the query API only
MODEL_KEY = "model-only-key-0123456789ab"         # "<key> line-7 sensor-anomaly": one model, no query API
QUERY_HOST = "redis-query.edgeai-redis.svc.cluster.local"
DASHBOARD = Path(__file__).resolve().parents[2] / "charts" / "monitoring" / "dashboards" / "query-api.json"


def app_tables(siddhi_objects: list[dict[str, Any]]) -> dict[str, list[str]]:
    """table.name -> attribute names of every Redis store table of the rendered CEP app."""
    app = next(v for k, v in engines.config_map(siddhi_objects, "siddhi-apps").items() if k.endswith(".siddhi"))
    out = {}
    for m in re.finditer(r"@store\(type='redis'[^)]*table\.name='([^']+)'\)\s*@PrimaryKey\('sensorId'\)\s*"
                         r"define table \w+ \(([^)]*)\)", app):
        out[m.group(1)] = [a.split()[0] for a in m.group(2).split(",")]
    return out


def loopback_with_free_8080() -> str:
    """A loopback address whose port 8080 is free: the rendered proxy_pass keeps the Service's port."""
    for last in range(2, 250):
        host = f"127.0.8.{last}"
        with socket.socket() as s:
            try:
                s.bind((host, 8080))
                return host
            except OSError:
                continue
    raise AssertionError("no loopback address with a free port 8080")


def start_query_api(objects: list[dict[str, Any]], root: Path, procs: engines.Processes, redis_port: int,
                    host: str) -> tuple[engines.Proc, int]:
    (dep,) = engines.find(objects, "Deployment", "redis-query")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    env = engines.env_values(c)
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "redis-query-auth", "key": "password"}}
    assert env["REDIS_USERNAME"] == "edgeai-query" and env["REDIS_HOST"] == "redis.edgeai-redis.svc"
    assert (env["QUERY_PORT"], env["METRICS_PORT"]) == ("8080", "9122")
    metrics_port = engines.free_port()
    env.update(PATH=os.environ["PATH"], REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port),
               REDIS_PASSWORD=QUERY_PASSWORD, QUERY_HOST=host, METRICS_PORT=str(metrics_port))
    command = engines.adapt(c["command"][2], {
        "/home/siddhi_user/siddhi-runner/classes": str(engines.harness_classes()),
        "/home/siddhi_user/siddhi-runner/lib/*": f"{engines.siddhi_libs()}/*"}, "query command")
    assert c["command"][:2] == ["sh", "-c"]
    root.mkdir(parents=True, exist_ok=True)
    proc = procs.start(engines.Proc("redis-query", ["sh", "-c", command], root / "query.log", env, cwd=root))
    proc.wait_for_log("edgeai-query: ready", 60)
    return proc, metrics_port


def get(port: int, path: str, key: str | None = None, host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None) -> tuple[int, Any, dict[str, str]]:
    conn = (http.client.HTTPSConnection(host, port, context=tls, timeout=10) if tls
            else http.client.HTTPConnection(host, port, timeout=10))
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        resp = conn.getresponse()
        raw = resp.read().decode()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def as_query_user(port: int, *args: str, password: str = QUERY_PASSWORD) -> str:
    proc = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--user", "edgeai-query",
                           "--pass", password, "--no-auth-warning", *args],
                          capture_output=True, text=True, timeout=20, check=False)
    return (proc.stdout + proc.stderr).strip()


def test_query_api_serves_aggregates_and_predictions_read_only_behind_the_gateway(local_site, tmp_path) -> None:
    engines.require("java", "siddhi", "redis", "nginx")
    redis_objects = local_site["redis"]
    tables = app_tables(local_site["siddhi"])
    values = {e["name"]: e.get("value") for e in engines.container(
        redis_objects, "Deployment", "redis-query", "query")["env"]}
    # The query API reads the tables the CEP app writes, with the app's fields.
    assert set(tables) == {values["AGGREGATES_TABLE"], values["PREDICTIONS_TABLE"]}
    aggregates, predictions = values["AGGREGATES_TABLE"], values["PREDICTIONS_TABLE"]

    with engines.processes() as procs:
        server, port = engines.start_redis(redis_objects, tmp_path / "redis", procs, REDIS_PASSWORD,
                                           query_password=QUERY_PASSWORD)

        def admin(*args: str) -> str:
            return engines.redis_cli(port, *args, password=REDIS_PASSWORD)

        server.wait_for(lambda: admin("ping") == "PONG", "PONG")
        rows = {
            "pump-1": {"avgValue": "42.5", "minValue": "40.0", "maxValue": "45.0", "stdValue": "1.25",
                       "eventCount": "12", "lastValue": "44.0", "windowSeconds": "60", "updatedAt": "1764715000000"},
            "pump-2": {"avgValue": "7.0", "minValue": "7.0", "maxValue": "7.0", "stdValue": "0.0",
                       "eventCount": "1", "lastValue": "7.0", "windowSeconds": "60", "updatedAt": "1764715000500"},
            "fan-1": {"avgValue": "3.0", "minValue": "1.0", "maxValue": "5.0", "stdValue": "2.0",
                      "eventCount": "3", "lastValue": "5.0", "windowSeconds": "60", "updatedAt": "1764715000900"},
        }
        for sensor, row in rows.items():
            assert set(row) | {"sensorId"} == set(tables[aggregates])
            admin("hset", f"{aggregates}:{sensor}", "sensorId", sensor, *[x for kv in row.items() for x in kv])
        prediction = {"model": "sensor-anomaly", "score": "0.93", "predictedAt": "1764715001000"}
        assert set(prediction) | {"sensorId"} == set(tables[predictions])
        admin("hset", f"{predictions}:pump-1", "sensorId", "pump-1", *[x for kv in prediction.items() for x in kv])
        admin("set", "not-a-sensor-table", "private")

        # The read-only user: reads the two tables, nothing else, writes nothing.
        assert "avgValue" in as_query_user(port, "hgetall", f"{aggregates}:pump-1")
        for command in (["set", f"{aggregates}:pump-1", "x"], ["hset", f"{aggregates}:pump-1", "avgValue", "0"],
                        ["del", f"{aggregates}:pump-1"], ["flushall"], ["config", "set", "appendonly", "no"],
                        ["acl", "setuser", "edgeai-query", "+@all"], ["get", "not-a-sensor-table"],
                        ["hgetall", "not-a-sensor-table"], ["keys", "*"]):
            assert "NOPERM" in as_query_user(port, *command), command
        assert "WRONGPASS" in as_query_user(port, "ping", password="not-the-password")
        assert admin("hget", f"{aggregates}:pump-1", "avgValue") == "42.5"   # nothing was changed
        # Only the password's hash is on the server's command line.
        assert QUERY_PASSWORD not in Path(f"/proc/{server.pid}/cmdline").read_text()

        host = loopback_with_free_8080()
        query, metrics_port = start_query_api(redis_objects, tmp_path / "query", procs, port, host)
        gateway_root = tmp_path / "gateway"
        _, ports = engines.start_gateway(
            local_site["gateway"], gateway_root, procs,
            [f"{ALL_MODELS_KEY} ops", f"{QUERY_KEY} dashboard @query", f"{MODEL_KEY} line-7 sensor-anomaly"],
            {QUERY_HOST: host}, upstream_port=engines.free_port())
        gw = ports["http"]

        # Through the gateway: the sensor's aggregates and latest prediction, JSON.
        status, body, _ = get(gw, "/v1/query/sensors/pump-1", QUERY_KEY)
        assert status == 200, body
        assert body == {"sensorId": "pump-1",
                        "aggregates": {"avgValue": 42.5, "minValue": 40.0, "maxValue": 45.0, "stdValue": 1.25,
                                       "eventCount": 12, "lastValue": 44.0, "windowSeconds": 60,
                                       "updatedAt": 1764715000000},
                        "prediction": {"model": "sensor-anomaly", "score": 0.93, "predictedAt": 1764715001000}}
        status, body, _ = get(gw, "/v1/query/sensors/pump-2", ALL_MODELS_KEY)   # a `*` key may read it too
        assert status == 200 and body["prediction"] is None and body["aggregates"]["eventCount"] == 1
        status, body, _ = get(gw, "/v1/query/sensors/no-such-sensor", QUERY_KEY)
        assert status == 404 and body == {"error": "no aggregates or prediction for sensor no-such-sensor"}
        status, body, _ = get(gw, "/v1/query/sensors/bad*id", QUERY_KEY)
        assert status == 400 and "sensor id" in body["error"]
        # Bounded lists, by id.
        status, body, _ = get(gw, "/v1/query/sensors?prefix=pump-", QUERY_KEY)
        assert status == 200 and [s["sensorId"] for s in body["sensors"]] == ["pump-1", "pump-2"]
        assert body["truncated"] is False and body["sensors"][0]["prediction"]["score"] == 0.93
        status, body, _ = get(gw, "/v1/query/sensors?limit=2", QUERY_KEY)
        assert status == 200 and [s["sensorId"] for s in body["sensors"]] == ["fan-1", "pump-1"]
        assert body["truncated"] is True and body["count"] == 2
        assert get(gw, "/v1/query/sensors?limit=100000", QUERY_KEY)[0] == 400
        # Keys: none -> 401, a key scoped to a model -> 403, an unknown key -> 401.
        status, body, headers = get(gw, "/v1/query/sensors/pump-1")
        assert status == 401 and body == {"error": "missing or invalid API key"}
        assert headers["www-authenticate"].startswith("Bearer")
        status, body, _ = get(gw, "/v1/query/sensors/pump-1", MODEL_KEY)
        assert status == 403 and body == {"error": "this API key may not read the query API"}
        assert get(gw, "/v1/query/sensors/pump-1", "unknown-key-0123456789abcdef")[0] == 401
        # Only /v1/query/ is routed: the service's probes are not reachable through the gateway.
        assert get(gw, "/readyz", QUERY_KEY)[0] == 404
        # The external listener: TLS only, the same route.
        tls = ssl.create_default_context(cafile=str(gateway_root / "gateway-tls" / "ca.crt"))
        status, body, _ = get(ports["https"], "/v1/query/sensors/pump-1", QUERY_KEY, tls=tls)
        assert status == 200 and body["prediction"]["model"] == "sensor-anomaly"

        # Prometheus gauges for the dashboard: every metric its panels query is exported.
        status, text = engines.http(f"http://{host}:{metrics_port}/metrics")
        assert status == 200
        assert 'edgeai_sensor_aggregate{sensor="pump-1",stat="avgValue"} 42.5' in text
        assert 'edgeai_sensor_prediction_score{sensor="pump-1",model="sensor-anomaly"} 0.93' in text
        assert "edgeai_query_redis_up 1" in text and "edgeai_query_sensors 3" in text
        assert re.search(r'edgeai_query_requests_total\{endpoint="sensor",code="200"\} [3-9]', text)
        exported = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
        dashboard = json.loads(DASHBOARD.read_text())
        used = set().union(*(metric_names(e) for e in dashboard_exprs(dashboard)))
        assert used - {"redis_up", "time", "min", "max", "sum", "rate"} <= exported, used - exported

        # Redis down: a clear 503, never a hang or an empty 200.
        server.kill()
        status, body, _ = get(gw, "/v1/query/sensors/pump-1", QUERY_KEY)
        assert status == 503 and body == {"error": "the Redis store is unavailable"}
        assert get(8080, "/readyz", host=host)[0] == 503

        # Neither password reached a log.
        for log in (query.log, server.log, *(gateway_root.glob("*.log"))):
            text = log.read_text()
            assert QUERY_PASSWORD not in text and REDIS_PASSWORD not in text, log
