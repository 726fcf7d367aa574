"""The retrain loop on the real kind site and its local cloud (issue 13): edge data -> cloud -> registry ->
reviewed promotion -> edge.

`edgeai up` (tests/e2e/conftest.py) deployed `local` with its cloud side on the same cluster
(edgeai.localcloud): the site's MirrorMaker 2 writes through the uplink relay to the cloud Kafka, the
landing writes JSON lines to MinIO, MLflow keeps its registry in Postgres and its artifacts in MinIO.
The test plays a labelled sensor line (the generator of tests/retrain knows which windows it made
anomalous: no site produces labels yet, edgeai.retrain says where they would come from), scored by
the version the site serves, as prediction records on the site's Kafka; cuts the uplink half-way
and restores it; runs the retrain CronJob's Job in the cluster; promotes its version with
`edgeai models promote` in a clone of the served repository, merges through the gate, and watches
Argo CD bring it to the site as a canary serving its share, then `--complete` makes it the stable
version, alone. Figures on stderr. Beside the loop, what else flows up: a Redis snapshot to the bucket,
the models' metrics (and only those) to the central Prometheus.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from edgeai import fleet, localcloud, paths, ports
from edgeai.gitops import gitserver
from edgeai.gitops.loop import Loop
from edgeai.images import build, definitions
from tests.e2e.kindsite import ENV, MODEL, SITE, eventually
from tests.retrain import sensors

pytestmark = pytest.mark.e2e

TRAINING, STORE, UPLINK, MODELS = "edgeai-training", "edgeai-object-store", "edgeai-uplink", "edgeai-models"
BUCKET, PREFIX = "edgeai-local-landing", "edge"
RECORDS = 600                       # two halves, the uplink cut between them
CUT_SECONDS = 20
LAND_TIMEOUT = 300
SYNC_TIMEOUT = 300
NORMAL = [21.0, 20.0, 22.0, 0.8, 21.0]


class PortForward:
    """kubectl port-forward to a Service on a free loopback port, for the duration of the test."""

    def __init__(self, kubeconfig: str, namespace: str, service: str, port: int):
        self.port = ports.free_port()
        self.proc = subprocess.Popen([*_kubectl_base(kubeconfig), "port-forward", "-n", namespace,
                                      f"svc/{service}", f"{self.port}:{port}", "--address", "127.0.0.1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert "Forwarding" in (self.proc.stdout.readline() or ""), f"port-forward to {service} failed"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _kubectl_base(kubeconfig: str) -> list[str]:
    from edgeai.cluster import binaries
    return [binaries.kubectl(), "--kubeconfig", kubeconfig]


@pytest.fixture(scope="module")
def cloud(site):
    """MLflow, the object store and the central Prometheus, reached from the host as a data scientist
    reaches them."""
    kubeconfig = str(site.info.kubeconfig)
    mlflow = PortForward(kubeconfig, TRAINING, "mlflow", 5000)
    store = PortForward(kubeconfig, STORE, "object-store", 9000)
    prometheus = PortForward(kubeconfig, localcloud.MONITORING_NS, "monitoring-prometheus", 9090)
    import boto3
    secrets = site.secrets
    s3 = boto3.client("s3", endpoint_url=store.url, region_name="us-east-1",
                      aws_access_key_id=secrets["objectStoreAccessKeyId"],
                      aws_secret_access_key=secrets["objectStoreSecretAccessKey"])
    yield {"mlflow": mlflow.url, "s3": s3, "prometheus": prometheus.url}
    for forward in (mlflow, store, prometheus):
        forward.close()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    """The artifact the site serves today (the model image's /model/model.joblib)."""
    into = tmp_path_factory.mktemp("shipped")
    ref = definitions.load("model-sensor-anomaly").ref()
    name = f"edgeai-e2e-shipped-{uuid.uuid4().hex[:8]}"
    build._docker("create", "--name", name, ref, "true")
    try:
        build._docker("cp", f"{name}:/model/model.joblib", str(into / "model.joblib"))
    finally:
        build._docker("rm", name)
    return into / "model.joblib"


@pytest.fixture(scope="module")
def loop(site, tmp_path_factory):
    env = fleet.load_fleet([ENV])[0]
    original = gitserver.publish(log=lambda m: print(m, file=sys.stderr))
    found = Loop.clone_served(env, env.sites[SITE], site.kubectl, tmp_path_factory.mktemp("retrain") / "repo")
    yield found
    subprocess.run(["git", "-C", str(gitserver.repository()), "update-ref", f"refs/heads/{gitserver.BRANCH}",
                    original], check=True)
    found.wait_synced(original, SYNC_TIMEOUT)
    # ... and the model back on its artifact, settled: the canary gone, no pod of another revision left
    # (the tests after this one judge the site's pods).
    site.kubectl.run("rollout", "status", "-n", MODELS, f"deployment/{MODEL}", "--timeout=300s", timeout=330)
    eventually("the model's pods settled", lambda: not [
        p for p in site.pods(MODELS) if p["metadata"].get("deletionTimestamp") or "canary" in p["metadata"]["name"]],
        300)


def landed(s3, run: str, topic: str = "predictions") -> list[dict]:
    """The records of this run landed under edge/local.<topic>/."""
    out = []
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{SITE}.{topic}/")
    for page in pages:
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read().decode()
            out += [d for d in map(json.loads, body.splitlines()) if d.get("run") == run]
    return out


def scale_uplink(site, replicas: int) -> None:
    site.kubectl.run("scale", "-n", UPLINK, "deployment/uplink", f"--replicas={replicas}")
    if replicas:
        site.kubectl.run("rollout", "status", "-n", UPLINK, "deployment/uplink", "--timeout=120s", timeout=150)
    else:
        eventually("the uplink is down", lambda: not site.pods(UPLINK), 120)


def retrain_cli(*args: str, tracking: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeai.retrain", *args, "--tracking-uri", tracking],
                          capture_output=True, text=True, timeout=300, check=False, cwd=paths.ROOT)


def promote(loop: Loop, tracking: str, *args: str) -> str:
    """`edgeai models promote` in the clone; the branch it made, merged through the gate and pushed."""
    proc = subprocess.run([sys.executable, "-m", "edgeai.cli", "models", "promote", "--env", ENV, MODEL, *args,
                           "--tracking-uri", tracking], cwd=loop.clone, capture_output=True, text=True,
                          timeout=900, check=False, env={**os.environ, "EDGEAI_ROOT": str(loop.clone)})
    assert proc.returncode == 0, f"edgeai models promote {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    branch = next(line.split("`")[1] for line in proc.stdout.splitlines() if line.startswith("Branch `promote/"))
    subprocess.run(["git", "-C", str(loop.clone), "merge", "-q", "--ff-only", branch], check=True)
    return subprocess.run(["git", "-C", str(loop.clone), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def versions_served(site, n: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _ in range(n):
        status, body = site.infer(NORMAL, site.api_key)
        assert status == 200, body
        counts[str(body.get("model_version"))] = counts.get(str(body.get("model_version")), 0) + 1
    return counts


def test_redis_snapshots_land_in_the_cloud_bucket(site, cloud) -> None:
    """The site's hourly CronJob (charts/redis snapshotSync, on since `local` declares its object
    store) run now: an RDB of the live dataset, with a key written just before, in the bucket."""
    key = f"e2e-snapshot-{uuid.uuid4().hex[:8]}"
    pod = site.pod("edgeai-redis", "app.kubernetes.io/component=server")
    out = site.exec("edgeai-redis", pod, "redis-cli", "-h", "127.0.0.1", "set", key, "1")  # REDISCLI_AUTH: the pod's
    assert out.strip() == "OK", out
    prefix = f"redis-snapshots/{SITE}/redis/"

    def keys() -> set[str]:
        return {o["Key"] for o in cloud["s3"].list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])}
    before = keys()
    job = f"snapshot-e2e-{key[-8:]}"
    site.kubectl.run("create", "job", "-n", "edgeai-redis", job, "--from=cronjob/redis-snapshot-sync")
    try:
        site.kubectl.run("wait", "-n", "edgeai-redis", f"job/{job}", "--for=condition=complete", "--timeout=300s",
                         timeout=330)
    finally:
        logs = site.kubectl.run("logs", "-n", "edgeai-redis", f"job/{job}", "--all-containers", check=False)
        site.kubectl.run("delete", "-n", "edgeai-redis", f"job/{job}", "--wait=false", check=False)
    new = sorted(keys() - before)
    assert len(new) == 1 and new[0].endswith(".rdb"), f"{new}\n{logs}"
    rdb = cloud["s3"].get_object(Bucket=BUCKET, Key=new[0])["Body"].read()
    assert rdb.startswith(b"REDIS") and key.encode() in rdb, f"{new[0]}: not an RDB holding {key}"


def test_the_models_metrics_reach_the_central_prometheus_and_nothing_else_does(site, cloud) -> None:
    """The site's Prometheus remote-writes what charts/monitoring's remoteWrite.metrics keeps: the CEP's
    prediction distribution, the model server's request counts and latency, `up`; its other series stay."""
    sensor = f"e2e-central-{uuid.uuid4().hex[:6]}"
    events = [(sensor, json.dumps({"sensorId": sensor, "value": 180.0 if tick == 6 else 20.0 + tick % 3}))
              for tick in range(12)]
    assert all(a.startswith("ack ") for a in site.produce("sensor-events", events, "acks=all"))
    status, body = site.infer(NORMAL, site.api_key)
    assert status == 200, body
    wanted = {"up", "edgeai_cep_predictions_total", "model_infer_request_success_total",
              "rest_server_request_duration_seconds_bucket"}

    def names() -> set[str]:
        query = urllib.parse.quote(f'count by (__name__) ({{site="{SITE}"}})')
        with urllib.request.urlopen(f"{cloud['prometheus']}/api/v1/query?query={query}", timeout=30) as resp:
            found = {r["metric"]["__name__"] for r in json.load(resp)["data"]["result"]}
        assert wanted <= found, f"not yet in the central Prometheus: {sorted(wanted - found)}"
        return found
    found = eventually("the site's model metrics in the central Prometheus", names, 300, interval=10)
    chart = yaml.safe_load((paths.CHARTS / "monitoring" / "values.yaml").read_text())
    kept = re.compile(chart["remoteWrite"]["metrics"])
    assert all(kept.fullmatch(n) for n in found), f"series that should have stayed on the site: {sorted(found)}"


def test_edge_data_is_retrained_promoted_and_served(site, cloud, shipped, loop) -> None:
    import joblib

    from edgeai.retrain import registry

    started = time.monotonic()
    model = joblib.load(shipped)
    run = uuid.uuid4().hex[:12]
    client = registry.client(cloud["mlflow"])
    if registry.latest(client, MODEL) is None:   # the version the site serves, the one to beat
        proc = retrain_cli("--model-file", f"environments/{ENV}/models/{MODEL}.yaml", "--baseline", str(shipped),
                           "--baseline-only", tracking=cloud["mlflow"])
        assert proc.returncode == 0, proc.stdout + proc.stderr
    before = int(registry.latest(client, MODEL).version)

    # 1. Sensor data on the site, scored by the served version, labelled; the uplink cut half-way.
    docs = sensors.records(model, RECORDS, seed=7, drifted=True, start_ts=int(time.time() * 1000))
    lines = [(f"sensor-{i % 20}", json.dumps({**d, "model_version": "3", "site": SITE, "run": run}))
             for i, d in enumerate(docs)]
    half = RECORDS // 2
    acks = site.produce("predictions", lines[:half])
    assert len([a for a in acks if a.startswith("ack ")]) == half, acks[-5:]
    eventually("the first half landed in the cloud", lambda: len(landed(cloud["s3"], run)) >= half, LAND_TIMEOUT,
               interval=5)
    first_half = time.monotonic() - started
    scale_uplink(site, 0)
    try:
        acks = site.produce("predictions", lines[half:])
        assert len([a for a in acks if a.startswith("ack ")]) == RECORDS - half, acks[-5:]
        time.sleep(CUT_SECONDS)
        assert len({d["ts"] for d in landed(cloud["s3"], run)}) == half, "records crossed a cut uplink"
    finally:
        scale_uplink(site, 1)
    restored = time.monotonic()
    eventually("every acknowledged record landed after the uplink returned",
               lambda: len({d["ts"] for d in landed(cloud["s3"], run)}) == RECORDS, LAND_TIMEOUT, interval=5)
    caught_up = time.monotonic() - restored

    # 2. The retrain CronJob's Job, in the cluster: trains on the landed data, registers a better version.
    job = f"retrain-e2e-{run[:6]}"
    site.kubectl.run("create", "job", "-n", TRAINING, job, "--from=cronjob/retrain")
    try:
        site.kubectl.run("wait", "-n", TRAINING, f"job/{job}", "--for=condition=complete", "--timeout=600s",
                         timeout=650)
    finally:
        logs = site.kubectl.run("logs", "-n", TRAINING, f"job/{job}", check=False)
        print(f"\nretrain job:\n{logs}", file=sys.stderr)
    new = registry.latest(client, MODEL)
    assert int(new.version) > before and new.tags.get(registry.TAG_VERDICT) == "better", new.tags
    registered = time.monotonic()

    # 3. Promotion as a reviewed change: the canary, through the gate and Argo CD.
    revision = promote(loop, cloud["mlflow"], "--weight", "50")
    loop.merge()
    loop.wait_synced(revision, SYNC_TIMEOUT)
    eventually("the canary serves", lambda: versions_served(site, 20).get(new.version, 0) > 0, 600, interval=5)
    canary_serving = time.monotonic() - registered
    split = versions_served(site, 40)
    assert len(split) == 2 and new.version in split, f"not a split between the stable version and the canary: {split}"

    # 4. Complete: the new version is the stable one, alone.
    revision = promote(loop, cloud["mlflow"], "--complete")
    loop.merge()
    loop.wait_synced(revision, SYNC_TIMEOUT)
    eventually(f"only version {new.version} serves", lambda: set(versions_served(site, 20)) == {new.version}, 600,
               interval=5)
    stable = time.monotonic() - registered
    total = time.monotonic() - started
    metric, value, baseline = (new.tags.get(registry.TAG_METRIC), float(new.tags[registry.TAG_VALUE]),
                               float(new.tags[registry.TAG_BASELINE_VALUE]))
    print(f"\nretrain loop: first half landed {first_half:.0f}s; after a {CUT_SECONDS}s cut all {RECORDS} landed "
          f"{caught_up:.0f}s after the uplink returned; v{new.version} registered -> canary serving "
          f"{canary_serving:.0f}s (split {split}), -> stable {stable:.0f}s; sensor data -> v{new.version} "
          f"serving alone {total:.0f}s "
          f"({metric} {value:.3f} against {baseline:.3f})", file=sys.stderr)
