"""The `local` environment's cloud side, on the site's own kind cluster (environment `cloud.onSiteCluster`).

`edgeai up` deploys it before the site: the training stack's workloads (stacks/training/workloads.py,
the same pod templates `pulumi up` creates) in the training stack's namespaces: MinIO (edgeai-object-store),
Postgres, MLflow, the landing and the retrain CronJob (edgeai-training); the aggregation Kafka
(charts/kafka with the stack's SASL_SSL listener and the site's SCRAM user) in edgeai-cloud-kafka;
the central Prometheus (charts/monitoring, a remote-write receiver, Prometheus alone) in
edgeai-cloud-monitoring; and the uplink (edgeai-uplink), a TCP relay standing for the site's WAN link.

Namespaces on the site's cluster rather than a second kind cluster: on 2 cores a second control plane
costs about half a core and minutes to start, and the node's CPU requests are what the site left.
The site reaches this cloud only as it reaches a real one, at the addresses the environment declares:
`cloud.kafkaBootstrap` is the uplink (scaled to 0 it is cut), `cloud.objectStoreEndpoint` the object
store's S3 endpoint, `cloud.prometheusRemoteWrite` the central Prometheus' write endpoint. Its
credentials are the site's own (the object store's keys, the SCRAM password), the listener's
certificate comes from the cluster's CA, which the site's MirrorMaker trusts through Secret
kafka-mirror-target's ca.crt; the database password is random, kept in the cluster's state.
CPU requests are cut to 10m (limits stay): the pods fit beside the site, not the cloud's sizing.
"""

from __future__ import annotations

import base64
import copy
from typing import Any
from urllib.parse import quote

import yaml

from edgeai import catalog, deploy, kafka_external
from edgeai.cluster.kube import Kubectl
from edgeai.cluster.state import ClusterInfo, private_values
from edgeai.composition import Release
from edgeai.fleet import Environment

KAFKA_NS = "edgeai-cloud-kafka"
MONITORING_NS = "edgeai-cloud-monitoring"
PROMETHEUS = f"monitoring-prometheus.{MONITORING_NS}.svc.cluster.local:9090"
UPLINK_NS = "edgeai-uplink"
UPLINK_PORT = 9093
UPLINK_HOST = f"uplink.{UPLINK_NS}.svc.cluster.local"
CPU_REQUEST = "10m"
SECRETS_FILE = "cloud-secrets.json"
TLS_DIR = "cloud-kafka"


def enabled(env: Environment) -> bool:
    return bool(env.cloud.get("onSiteCluster"))


def _training():
    from stacks.training import training, workloads  # the stack's modules (pulumi is a dev dependency)
    return training, workloads


def check(env: Environment) -> None:
    """The environment must point the site at this cloud's uplink, object store and central Prometheus."""
    training, _ = _training()
    wanted = {"kafkaBootstrap": f"{UPLINK_HOST}:{UPLINK_PORT}",
              "objectStoreEndpoint": training.plan(env).object_store_endpoint,
              "prometheusRemoteWrite": f"http://{PROMETHEUS}/api/v1/write"}
    wrong = {k: v for k, v in wanted.items() if env.cloud.get(k) != v}
    if wrong:
        raise ValueError(f"environments/{env.name}/environment.yaml: cloud.onSiteCluster needs "
                         + ", ".join(f"cloud.{k}: {v}" for k, v in wrong.items()))


def _secret(ns: str, name: str, data: dict[str, str], type_: str = "Opaque") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": type_, "metadata": {"name": name, "namespace": ns},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def _meta(name: str, ns: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "labels": labels}


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name, "app.kubernetes.io/part-of": "edgeai"}


def _small(template: dict[str, Any]) -> dict[str, Any]:
    for c in [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]:
        c["resources"]["requests"]["cpu"] = CPU_REQUEST
    return template


def _deployment(ns: str, name: str, template: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, ns, _labels(name)),
            "spec": {"replicas": replicas, "strategy": {"type": "Recreate"},
                     "selector": {"matchLabels": _labels(name)}, "template": _small(template)}}


def _service(ns: str, name: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, ns, _labels(name)),
            "spec": {"selector": _labels(name), "ports": [{"name": "tcp", "port": port, "targetPort": port}]}}


def _pvc(ns: str, name: str, size: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(name, ns, _labels(name)),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}


def objects(env: Environment, info: ClusterInfo, site_secrets: dict[str, str]) -> list[dict[str, Any]]:
    """Every object of the cloud side but its charts' (releases()), namespaces first."""
    training, workloads = _training()
    p = training.plan(env)
    mirror = env.config.get("images", {}).get("mirror")
    tns, sns = training.TRAINING_NS, training.OBJECT_STORE_NS
    store = {"access-key-id": site_secrets["objectStoreAccessKeyId"],
             "secret-access-key": site_secrets["objectStoreSecretAccessKey"]}
    db_password = private_values(info.dir / SECRETS_FILE, ["postgresPassword"])["postgresPassword"]
    db_uri = (f"postgresql+psycopg2://mlflow:{quote(db_password, safe='')}@postgres.{tns}.svc.cluster.local:"
              f"{workloads.PORTS['postgres']}/mlflow")
    tls = kafka_external.ensure_tls(info.dir, [UPLINK_HOST], brokers=0, subdir=TLS_DIR)
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted", "app.kubernetes.io/part-of": "edgeai"}}}
        for ns in namespaces()]
    out += [
        _secret(tns, training.STORE_SECRET, store), _secret(sns, training.STORE_SECRET, store),
        _secret(tns, training.DB_SECRET, {"password": db_password, "uri": db_uri}),
        _secret(KAFKA_NS, "kafka-external-tls", {"tls.crt": tls["kafkaExternalTlsCert"],
                                                 "tls.key": tls["kafkaExternalTlsKey"]}, "kubernetes.io/tls"),
        _secret(KAFKA_NS, "kafka-external-users", {"users": training.mirror_users(
            env, "".join(f"{s} {site_secrets['kafkaMirrorPassword']}\n" for s in env.sites))}),
        _pvc(sns, "object-store", "2Gi"),
        _deployment(sns, "object-store", workloads.mirrored(
            workloads.minio_pod(_labels("object-store"), store_secret=training.STORE_SECRET), mirror)),
        _service(sns, "object-store", workloads.PORTS["minio"]),
        _service(tns, "postgres", workloads.PORTS["postgres"]),
        _service(tns, "mlflow", workloads.PORTS["mlflow"]),
        _deployment(tns, "mlflow", workloads.mirrored(workloads.mlflow_pod(
            _labels("mlflow"), namespace=tns, artifacts=f"s3://{p.bucket}/{catalog.MLFLOW_PREFIX}",
            object_store_endpoint=p.object_store_endpoint, db_secret=training.DB_SECRET,
            store_secret=training.STORE_SECRET, bucket=p.bucket), mirror)),
        # Batches of 10 s rather than the stack's 60: the loop test waits for them.
        _deployment(tns, "landing", workloads.mirrored(workloads.landing_pod(
            _labels("landing"), bootstrap=f"kafka.{KAFKA_NS}.svc.cluster.local:9092", topics=catalog.TOPICS,
            bucket=p.bucket, endpoint=p.object_store_endpoint, prefix=catalog.EDGE_PREFIX,
            store_secret=training.STORE_SECRET, batch_seconds=10), mirror)),
        _deployment(UPLINK_NS, "uplink", workloads.mirrored(workloads.pod_template(
            _labels("uplink"), [workloads.container(
                "relay", workloads.IMAGES["retrain"],
                command=["python", "-m", "edgeai.relay", "--listen", str(UPLINK_PORT),
                         "--to", f"kafka-external-0.{KAFKA_NS}.svc.cluster.local:{UPLINK_PORT}"],
                ports=[{"name": "kafka", "containerPort": UPLINK_PORT}],
                readinessProbe={"tcpSocket": {"port": UPLINK_PORT}, "periodSeconds": 5},
                resources=workloads.resources("10m", "64Mi", "500m", "256Mi", disk="16Mi", disk_limit="64Mi"))],
            uid=10001, volumes=[]), mirror)),
        _service(UPLINK_NS, "uplink", UPLINK_PORT),
    ]
    postgres = workloads.mirrored(workloads.postgres_pod(_labels("postgres"), db_secret=training.DB_SECRET), mirror)
    out.append({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta("postgres", tns, _labels("postgres")),
                "spec": {"serviceName": "postgres", "replicas": 1, "selector": {"matchLabels": _labels("postgres")},
                         "template": _small(postgres),
                         "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                             "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    out.append(retrain_cronjob(env, p, workloads, mirror))
    return out


def retrain_cronjob(env: Environment, p, workloads, mirror: str | None) -> dict[str, Any]:
    """The stack's retrain CronJob (suspended: `kubectl create job --from=cronjob/retrain` runs it), on the
    node's CPU: no GPU, a request the node has room for."""
    training, _ = _training()
    job = workloads.retrain_job_template(
        _labels("retrain"), registry=p.registry_url, object_store_endpoint=p.object_store_endpoint,
        landing_uri=f"s3://{p.bucket}/{catalog.EDGE_PREFIX}/", store_secret=training.STORE_SECRET,
        models=[m.file.data for _, m in sorted(env.models.items()) if "retrain" in m.file.data])
    spec = job["template"]["spec"]
    for key in ("nodeSelector", "tolerations"):
        spec.pop(key)
    spec["volumes"] = [workloads.empty_dir("tmp", "2Gi")]
    spec["containers"][0]["resources"] = workloads.resources("100m", "512Mi", "2", "2Gi", disk="256Mi",
                                                             disk_limit="3Gi")
    workloads.mirrored(job["template"], mirror)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta("retrain", training.TRAINING_NS,
                                                                           _labels("retrain")),
            "spec": {"schedule": training.RETRAIN_SCHEDULE, "suspend": True, "concurrencyPolicy": "Forbid",
                     "jobTemplate": {"metadata": {"labels": _labels("retrain")}, "spec": job}}}


def namespaces() -> list[str]:
    training, _ = _training()
    return [training.TRAINING_NS, training.OBJECT_STORE_NS, KAFKA_NS, MONITORING_NS, UPLINK_NS]


def releases(env: Environment) -> list[Release]:
    """The training stack's chart releases in this cloud's namespaces, CPU requests cut: the aggregation
    Kafka, and the central Prometheus alone (no Grafana, no Alertmanager: nothing here reads them),
    receiving the site's remote write and scraping the cloud's own pods."""
    training, _ = _training()
    p = training.plan(env)
    stack = {r.component: r for r in training.chart_releases(env, p)}
    kafka = copy.deepcopy(stack["kafka"].values)
    kafka["resources"] = {"requests": {"cpu": CPU_REQUEST}}
    kafka["kafkaExporter"] = {"enabled": False}     # no image of it is buildable here (environments/local)
    monitoring = copy.deepcopy(stack["monitoring"].values)
    scraped = [n for n in namespaces() if n != UPLINK_NS]    # the relay has no metrics
    site_monitoring = catalog.COMPONENTS["monitoring"].namespace
    monitoring.update(
        scrapeNamespaces=scraped, grafana={"enabled": False}, alertmanager={"enabled": False},
        networkPolicy={"enabled": True, "ingressNamespaces": [site_monitoring],
                       "egressNamespaces": [n for n in scraped if n != MONITORING_NS], "egressCIDRs": []})
    monitoring["prometheus"] = {**monitoring["prometheus"], "persistence": {"size": "1Gi"},
                                "retention": {"time": "2d", "size": "512MB"},
                                "resources": {"requests": {"cpu": CPU_REQUEST, "memory": "256Mi"}}}
    return [Release(name=c, component=c, chart=stack[c].chart, namespace=ns, sync_wave=0, values=values)
            for c, ns, values in (("kafka", KAFKA_NS, kafka), ("monitoring", MONITORING_NS, monitoring))]


def images(env: Environment, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the site registry must hold for this cloud: its pods' images, and rclone, which a site's model
    pod runs once a promoted version (s3://) is its canary."""
    from edgeai.images import definitions
    mirror = env.config.get("images", {}).get("mirror")
    rclone = definitions.load("rclone").ref()
    if mirror:
        rclone = f"{mirror}/{rclone.split('/', 1)[1]}"
    return [*objs, {"kind": "Pod", "spec": {"containers": [{"image": rclone}]}}]


def up(env: Environment, info: ClusterInfo, site_secrets: dict[str, str], *, pin: str | None, log=print,
       timeout: float = 900) -> None:
    """Apply the cloud side and wait until every part of it is ready."""
    from edgeai.images import site as site_images
    check(env)
    objs = objects(env, info, site_secrets)
    for ref in site_images.provide(env, images(env, objs), log):
        raise RuntimeError(f"the local cloud's image {ref} has no build definition under images/")
    kubectl = Kubectl(info.kubeconfig)
    kubectl.apply([o for o in objs if o["kind"] == "Namespace"])
    kubectl.apply([o for o in objs if o["kind"] != "Namespace"])
    h = deploy.Helm(info.kubeconfig, pin)
    for release in releases(env):
        deployed = h.deployed(release)
        values = yaml.safe_dump(release.values)
        if deployed is None or not deploy._same(deployed, h.dry_run(release, values)):
            h.upgrade(release, values, f"{int(timeout)}s", wait=False)
    training, _ = _training()
    tns, sns = training.TRAINING_NS, training.OBJECT_STORE_NS
    for ns, what in ((KAFKA_NS, "statefulset/kafka"), (MONITORING_NS, "statefulset/monitoring-prometheus"),
                     (sns, "deployment/object-store"), (tns, "statefulset/postgres"), (tns, "deployment/mlflow"),
                     (tns, "deployment/landing"), (UPLINK_NS, "deployment/uplink")):
        kubectl.run("rollout", "status", "-n", ns, what, f"--timeout={int(timeout)}s", timeout=timeout + 30)
    log(f"local cloud: Kafka behind the uplink {UPLINK_HOST}:{UPLINK_PORT}, object store, MLflow on Postgres, "
        f"landing, central Prometheus: ready ({', '.join(namespaces())})")
