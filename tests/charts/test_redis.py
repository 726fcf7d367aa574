"""charts/redis rendered by the real helm: AUTH from a Secret, AOF, replicas, safety.

When redis-server is installed (Debian's redis-server package), the rendered redis.conf is
also loaded by the real server and AUTH and the AOF are checked against it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from edgeai import helm, paths
from tests.charts.conftest import (
    assert_requests_and_limits,
    assert_restricted,
    find,
    free_port,
    pod_specs,
    render,
)

NS = "edgeai-redis"
REPLICAS = {"global": {"nodeCount": 3}, "replica": {"count": 2}}
SNAPSHOTS = {"snapshotSync": {"enabled": True, "destination": "cloud:edgeai-snapshots/redis"}}


def redis(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render("redis", values, namespace=NS)


def conf(objects: list[dict[str, Any]]) -> dict[str, str]:
    """redis.conf directives (first word -> rest of the line)."""
    out = {}
    for line in find(objects, "ConfigMap", "redis")[0]["data"]["redis.conf"].splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            assert key not in out, f"{key} set twice"
            out[key] = value
    return out


def container(objects: list[dict[str, Any]], sts: str, name: str) -> dict[str, Any]:
    spec = find(objects, "StatefulSet", sts)[0]["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == name)


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env") or []}


# --- configuration -----------------------------------------------------------------------------

def test_aof_persistence_is_on_in_the_data_volume() -> None:
    directives = conf(redis())
    assert directives["appendonly"] == "yes"
    assert directives["appendfsync"] == "everysec"
    assert directives["dir"] == "/data"
    assert directives["protected-mode"] == "yes"
    assert directives["maxmemory"] == "384mb"


def test_no_password_is_rendered_anywhere() -> None:
    objects = redis({**REPLICAS, **SNAPSHOTS})
    assert find(objects, "Secret") == []
    assert "requirepass" not in conf(objects) and "masterauth" not in conf(objects)
    text = json.dumps(objects)
    # requirepass/masterauth only ever appear as the start script's reference to the env var
    assert text.count("requirepass") == text.count('--requirepass \\"$REDIS_PASSWORD\\"') == 1
    with pytest.raises(helm.HelmError, match="additional properties 'password'"):
        redis({"auth": {"enabled": True, "password": "hunter2"}})


def test_auth_is_on_by_default_from_the_redis_auth_secret() -> None:
    objects = redis()
    ref = {"secretKeyRef": {"name": "redis-auth", "key": "password"}}
    redis_env = env_of(container(objects, "redis", "redis"))
    assert redis_env["REDIS_PASSWORD"] == ref
    assert redis_env["REDISCLI_AUTH"] == ref  # probes' redis-cli authenticates without a flag
    assert env_of(container(objects, "redis", "metrics"))["REDIS_PASSWORD"] == ref
    start = find(objects, "ConfigMap", "redis")[0]["data"]["start.sh"]
    assert '--requirepass "$REDIS_PASSWORD"' in start
    assert container(objects, "redis", "redis")["command"] == ["sh", "/etc/redis/start.sh"]


def test_auth_can_only_be_switched_off_explicitly() -> None:
    objects = redis({"auth": {"enabled": False}})
    assert conf(objects)["protected-mode"] == "no"
    assert "secretKeyRef" not in json.dumps(objects)
    with pytest.raises(helm.HelmError):
        redis({"auth": {"enabled": "no"}})


# --- workload shape ----------------------------------------------------------------------------

def test_primary_runs_on_a_persistent_volume_of_the_site_storage_class() -> None:
    objects = redis({"global": {"storageClass": "local-path"}, "persistence": {"size": "8Gi"}})
    (sts,) = find(objects, "StatefulSet")
    assert sts["metadata"]["name"] == "redis" and sts["spec"]["replicas"] == 1
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["storageClassName"] == "local-path"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    mounts = {m["name"]: m["mountPath"] for m in container(objects, "redis", "redis")["volumeMounts"]}
    assert mounts["data"] == "/data"
    (svc,) = find(objects, "Service", "redis")
    assert [p["port"] for p in svc["spec"]["ports"]] == [6379]
    assert svc["spec"]["selector"]["edgeai.io/redis-role"] == "primary"


def test_replicas_follow_the_primary_and_get_a_pdb() -> None:
    objects = redis(REPLICAS)
    (replica,) = find(objects, "StatefulSet", "redis-replica")
    assert replica["spec"]["replicas"] == 2
    env = env_of(container(objects, "redis-replica", "redis"))
    assert env["REDIS_PRIMARY_HOST"] == f"redis-0.redis-headless.{NS}.svc"
    assert "REDIS_PRIMARY_HOST" not in env_of(container(objects, "redis", "redis"))
    start = find(objects, "ConfigMap", "redis")[0]["data"]["start.sh"]
    assert '--replicaof "$REDIS_PRIMARY_HOST" 6379' in start
    (pdb,) = find(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    (reads,) = find(objects, "Service", "redis-replicas")
    assert reads["spec"]["selector"]["edgeai.io/redis-role"] == "replica"
    for sts in find(objects, "StatefulSet"):
        assert sts["spec"]["template"]["spec"]["topologySpreadConstraints"]


def test_single_pod_has_no_pdb_and_no_replicas() -> None:
    objects = redis()
    assert find(objects, "PodDisruptionBudget") == []
    assert find(objects, "StatefulSet", "redis-replica") == []
    assert find(objects, "Service", "redis-replicas") == []


def test_sentinel_is_refused_rather_than_half_done() -> None:
    with pytest.raises(helm.HelmError, match="sentinel/enabled"):
        redis({"sentinel": {"enabled": True}})


# --- probes, metrics, security -----------------------------------------------------------------

def test_probes_ping_with_redis_cli_and_check_the_exporter_port() -> None:
    objects = redis()
    server = container(objects, "redis", "redis")
    for probe in ("readinessProbe", "livenessProbe"):
        command = " ".join(server[probe]["exec"]["command"])
        assert "redis-cli -h 127.0.0.1 -p 6379 ping" in command
    assert [p["containerPort"] for p in server["ports"]] == [6379]
    exporter = container(objects, "redis", "metrics")
    assert exporter["image"] == "ghcr.io/edgeai-platform/redis-exporter:1.45.0"
    assert [p["containerPort"] for p in exporter["ports"]] == [9121]
    for probe in ("readinessProbe", "livenessProbe"):
        assert exporter[probe]["tcpSocket"]["port"] == "metrics"
    annotations = find(objects, "StatefulSet", "redis")[0]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9121"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["checksum/config"]


def test_every_container_runs_restricted_with_requests_and_limits() -> None:
    objects = redis({**REPLICAS, **SNAPSHOTS})
    assert_restricted(objects)
    assert_requests_and_limits(objects)
    for where, spec in pod_specs(objects).items():
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsUser"] == 999, where


def test_network_policy_lists_redis_and_metrics_ports() -> None:
    objects = redis({"networkPolicy": {"enabled": True, "ingressNamespaces": ["edgeai-siddhi"]}})
    (policy,) = find(objects, "NetworkPolicy", "redis-server")
    assert sorted(p["port"] for p in policy["spec"]["ingress"][0]["ports"]) == [6379, 9121]


# --- snapshot sync -----------------------------------------------------------------------------

def test_snapshot_sync_is_off_by_default() -> None:
    assert find(redis(), "CronJob") == []


def test_snapshot_sync_uploads_a_network_rdb_with_rclone() -> None:
    objects = redis({**REPLICAS, **SNAPSHOTS, "global": {"nodeCount": 3, "site": "fra-store-001"}})
    (cron,) = find(objects, "CronJob")
    spec = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (snap,) = spec["initContainers"]
    # reads from a replica when there is one
    assert snap["command"][:2] == ["sh", "-c"]
    assert "redis-cli -h redis-replicas -p 6379 --rdb /snapshot/dump.rdb && exit 0;" in snap["command"][2]
    assert snap["command"][2].startswith("for attempt in $(seq 30)")   # the policy admits a new pod late
    assert env_of(snap)["REDISCLI_AUTH"] == {"secretKeyRef": {"name": "redis-auth", "key": "password"}}
    (upload,) = spec["containers"]
    assert upload["image"] == "ghcr.io/edgeai-platform/rclone:1.60.1"
    assert env_of(upload)["DESTINATION"] == "cloud:edgeai-snapshots/redis/fra-store-001/redis"
    secret = next(v for v in spec["volumes"] if v["name"] == "rclone-config")["secret"]
    assert secret["secretName"] == "redis-snapshot-storage"


def test_snapshot_sync_needs_a_destination() -> None:
    with pytest.raises(helm.HelmError, match="snapshotSync.destination"):
        redis({"snapshotSync": {"enabled": True}})


# --- schema and lint ---------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    {"replicas": 2},
    {"replica": {"count": 1, "sentinel": True}},
    {"metrics": {"port": 9121}},
    {"persistence": {"size": "1Gi", "aof": True}},
    {"snapshotSync": {"bucket": "x"}},
])
def test_schema_rejects_unknown_keys_at_every_level(values) -> None:
    with pytest.raises(helm.HelmError, match="additional properties"):
        redis(values)


@pytest.mark.parametrize("values", [None, REPLICAS])
def test_lint_strict_passes(values) -> None:
    helm.lint(paths.CHARTS / "redis", values)


# --- the real engine ---------------------------------------------------------------------------

@pytest.mark.skipif(not (shutil.which("redis-server") and shutil.which("redis-cli")),
                    reason="redis-server/redis-cli not installed (Debian package redis-server)")
def test_real_redis_server_runs_the_rendered_config_as_primary_and_replica(tmp_path: Path) -> None:
    rendered = find(redis(REPLICAS), "ConfigMap", "redis")[0]["data"]["redis.conf"]
    assert "\ndir /data\n" in rendered
    password = "s3cret-from-the-secret"
    servers: list[subprocess.Popen[str]] = []  # every server this test started, stopped at the end

    def start(name: str, *extra: str) -> int:
        """redis-server with the rendered file and the flags start.sh adds; redis-server changes
        into `dir` while parsing, so the sandbox replaces that one line (and port/bind)."""
        (tmp_path / name).mkdir()
        sandboxed = rendered.replace("\ndir /data\n", f"\ndir {tmp_path / name}\n")
        (tmp_path / name / "redis.conf").write_text(sandboxed)
        port = free_port()
        log = (tmp_path / name / "redis.log").open("w")  # a file: a full pipe would block the server
        servers.append(subprocess.Popen(
            ["redis-server", str(tmp_path / name / "redis.conf"), "--requirepass", password,
             "--masterauth", password, *extra, "--port", str(port), "--bind", "127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, text=True))
        return port

    def cli(port: int, *args: str, auth: bool = True) -> str:
        env = {"PATH": "/usr/bin:/bin", **({"REDISCLI_AUTH": password} if auth else {})}
        return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                              capture_output=True, text=True, env=env, timeout=10).stdout.strip()

    def logs() -> str:
        return "\n".join(p.read_text() for p in sorted(tmp_path.glob("*/redis.log")))

    def eventually(check, what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            for server in servers:
                assert server.poll() is None, f"{what}\n{logs()}"
            time.sleep(0.2)
        raise AssertionError(f"{what}\n{logs()}")

    try:
        primary = start("primary")
        eventually(lambda: cli(primary, "ping") == "PONG", "primary did not answer PING")
        assert "NOAUTH" in cli(primary, "get", "x", auth=False)
        assert cli(primary, "config", "get", "appendonly").splitlines() == ["appendonly", "yes"]
        assert cli(primary, "config", "get", "appendfsync").splitlines() == ["appendfsync", "everysec"]
        assert cli(primary, "config", "get", "maxmemory-policy").splitlines() == [
            "maxmemory-policy", "volatile-lru"]
        assert cli(primary, "set", "sensor:1", "42") == "OK"
        assert any((tmp_path / "primary" / "appendonlydir").glob("*.incr.aof"))

        replica = start("replica", "--replicaof", "127.0.0.1", str(primary))
        eventually(lambda: cli(replica, "get", "sensor:1") == "42",
                   "the replica did not sync with masterauth")
        assert "READONLY" in cli(replica, "set", "sensor:2", "1")
    finally:
        for server in servers:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


# --- the query API (query.enabled) -------------------------------------------------------------

QUERY = {"query": {"enabled": True, "ingressNamespaces": ["edgeai-gateway"],
                   "metricsNamespaces": ["edgeai-monitoring"]}}


def test_query_api_is_off_by_default() -> None:
    objects = redis()
    assert not [o for o in objects if o["metadata"]["name"] == "redis-query"]
    assert "REDIS_QUERY_PASSWORD" not in env_of(container(objects, "redis", "redis"))


def test_query_api_reads_with_a_read_only_acl_user_whose_password_is_never_rendered() -> None:
    objects = redis(QUERY)
    ref = {"secretKeyRef": {"name": "redis-query-auth", "key": "password"}}
    assert env_of(container(objects, "redis", "redis"))["REDIS_QUERY_PASSWORD"] == ref
    start = find(objects, "ConfigMap", "redis")[0]["data"]["start.sh"]
    # Only a SHA-256 of the password reaches redis-server's command line; the user may PING, SCAN and
    # HGETALL the CEP's two tables, nothing else.
    assert '''hash=$(printf '%s' "$REDIS_QUERY_PASSWORD" | sha256sum''' in start
    assert ('''--user edgeai-query on "#$hash" resetkeys \\\n'''
            """    '%R~sensor_aggregates:*' '%R~sensor_predictions:*' resetchannels -@all +ping +scan +hgetall\n"""
            in start)
    (dep,) = find(objects, "Deployment", "redis-query")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    env = env_of(c)
    assert env["REDIS_PASSWORD"] == ref and env["REDIS_USERNAME"] == "edgeai-query"
    assert env["REDIS_HOST"] == f"redis.{NS}.svc"
    assert c["image"] == "ghcr.io/edgeai-platform/siddhi-runner:5.1.21"
    assert "edgeai.engines.RedisQueryApi" in c["command"][-1]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert find(objects, "Secret") == []
    assert_restricted(objects)
    assert_requests_and_limits(objects)
    # With replicas it reads from them, like the snapshot.
    env = env_of(find(redis({**QUERY, **REPLICAS}), "Deployment", "redis-query")[0]
                 ["spec"]["template"]["spec"]["containers"][0])
    assert env["REDIS_HOST"] == f"redis-replicas.{NS}.svc"
    with pytest.raises(helm.HelmError, match="query.enabled needs auth.enabled"):
        redis({**QUERY, "auth": {"enabled": False}})


def test_query_api_network_policy_admits_the_gateway_and_prometheus_and_reaches_only_redis() -> None:
    (policy,) = find(redis(QUERY), "NetworkPolicy", "redis-query")
    ingress = policy["spec"]["ingress"]
    assert [([f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for f in r["from"]],
             [p["port"] for p in r["ports"]]) for r in ingress] == [
        (["edgeai-gateway"], [8080]), (["edgeai-monitoring"], [9122])]
    dns, store = policy["spec"]["egress"]
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert store == {"to": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis",
        "app.kubernetes.io/component": "server"}}}], "ports": [{"protocol": "TCP", "port": 6379}]}
    (svc,) = find(redis(QUERY), "Service", "redis-query")
    assert [p["port"] for p in svc["spec"]["ports"]] == [8080]


def test_query_api_runs_the_siddhi_runner_image_the_siddhi_chart_runs() -> None:
    """RedisQueryApi ships in the siddhi-runner image (tools/engines/harness): the two charts must name
    the same image, or the query API would run another build of the harness than the CEP."""
    import yaml
    redis_image = yaml.safe_load((paths.CHARTS / "redis" / "values.yaml").read_text())["query"]["image"]
    siddhi_image = yaml.safe_load((paths.CHARTS / "siddhi" / "values.yaml").read_text())["image"]
    assert redis_image == siddhi_image
