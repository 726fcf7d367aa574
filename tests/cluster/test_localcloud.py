"""edgeai.localcloud: the `local` environment's cloud side as `edgeai up` applies it (the pods run in
tests/e2e/test_retrain_loop.py). Made in a temporary state directory, no cluster needed."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from edgeai import fleet, localcloud, paths
from edgeai.cluster.state import ClusterInfo
from edgeai.images.needed import pod_images

SITE_SECRETS = {"objectStoreAccessKeyId": "store-key-id-0123456789", "objectStoreSecretAccessKey": "s" * 32,
                "kafkaMirrorPassword": "mirror-password-0123456789"}


@pytest.fixture
def env():
    return fleet.load_fleet(["local"])[0]


@pytest.fixture
def objects(env, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CACHE", tmp_path)
    info = ClusterInfo("edgeai-local-local", "kind", "local", "local")
    info.dir.mkdir(parents=True)
    return localcloud.objects(env, info, SITE_SECRETS)


def test_the_environment_points_the_site_at_this_cloud(env) -> None:
    localcloud.check(env)
    cloud = {**env.cloud, "kafkaBootstrap": "x:9093"}
    moved = SimpleNamespace(name=env.name, cloud=cloud, config={**env.config, "cloud": cloud})
    with pytest.raises(ValueError, match=r"cloud.kafkaBootstrap: uplink\.edgeai-uplink"):
        localcloud.check(moved)


def test_every_pod_runs_an_image_of_the_site_registry_with_a_small_cpu_request(objects) -> None:
    assert all(ref.startswith("localhost:5001/edgeai-platform/") for ref in pod_images(objects))
    for o in objects:
        spec = o.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
        if template:
            for c in [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]:
                assert c["resources"]["requests"]["cpu"] in ("10m", "100m"), (o["metadata"]["name"], c["name"])
                assert c["resources"]["limits"]["cpu"]


def test_the_cloud_uses_the_sites_credentials_and_keeps_its_own_in_the_state(objects) -> None:
    secrets = {(o["metadata"]["namespace"], o["metadata"]["name"]): {
        k: base64.b64decode(v).decode() for k, v in o["data"].items()} for o in objects if o["kind"] == "Secret"}
    store = secrets[("edgeai-object-store", "object-store-credentials")]
    assert store == {"access-key-id": SITE_SECRETS["objectStoreAccessKeyId"],
                     "secret-access-key": SITE_SECRETS["objectStoreSecretAccessKey"]}
    assert secrets[("edgeai-cloud-kafka", "kafka-external-users")] == {
        "users": f"local {SITE_SECRETS['kafkaMirrorPassword']}\n"}
    db = secrets[("edgeai-training", "mlflow-db")]
    assert len(db["password"]) >= 24 and db["password"] in db["uri"]
    assert "DNS:uplink.edgeai-uplink.svc.cluster.local" in _sans(secrets[("edgeai-cloud-kafka", "kafka-external-tls")])


def test_the_retrain_cronjob_runs_on_the_nodes_cpu(objects) -> None:
    [cron] = [o for o in objects if o["kind"] == "CronJob"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["spec"]["suspend"] and "nodeSelector" not in pod and "tolerations" not in pod
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]


def _sans(tls: dict[str, str]) -> str:
    import subprocess
    return subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=tls["tls.crt"],
                          capture_output=True, text=True, check=True).stdout


def test_the_central_prometheus_receives_the_sites_remote_write_and_nothing_else_runs_beside_it(env) -> None:
    from edgeai import helm
    [monitoring] = [r for r in localcloud.releases(env) if r.component == "monitoring"]
    assert monitoring.namespace == localcloud.MONITORING_NS
    assert env.cloud["prometheusRemoteWrite"] == f"http://{localcloud.PROMETHEUS}/api/v1/write"
    objs = helm.template(paths.ROOT / monitoring.chart, monitoring.name, monitoring.namespace, monitoring.values)
    assert {o["kind"] for o in objs if o["kind"] in ("StatefulSet", "Deployment")} == {"StatefulSet"}
    [sts] = [o for o in objs if o["kind"] == "StatefulSet"]
    assert sts["metadata"]["name"] == "monitoring-prometheus"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert "--web.enable-remote-write-receiver" in container["args"]
    assert container["resources"]["requests"]["cpu"] == localcloud.CPU_REQUEST
    [policy] = [o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "monitoring-prometheus"]
    allowed = {peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
               for rule in policy["spec"]["ingress"] for peer in rule["from"]}
    assert "edgeai-monitoring" in allowed     # the site's Prometheus, writing
