"""The training stack (`<env>.training`): the environment's cloud side, on any Kubernetes cluster.

build(env, config) creates:
- namespaces (Pod Security restricted) with default deny + DNS egress and the allow rules of the
  workloads below;
- the object store: an external S3-compatible endpoint (config edgeai:objectStoreEndpoint) or an
  in-cluster MinIO; one bucket per environment (cloud.objectStore, else edgeai-<env>-landing) laid
  out as stacks/cloud.py describes;
- MLflow tracking server + model registry on Postgres (password from secret config);
- the Kafka aggregation cluster (charts/kafka) that the sites' MirrorMaker 2 writes to (SASL_SSL,
  one SCRAM user per site, see aggregation_listener), and the
  landing of the mirrored topics into the bucket (python -m edgeai.retrain.lander);
- a suspended retraining CronJob for GPU nodes (python -m edgeai.retrain on the models that declare
  `retrain:`);
- central Prometheus (charts/monitoring) and Elasticsearch + Kibana (charts/logging).

Its outputs (stacks/cloud.py) reach the site stacks through a StackReference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s

from edgeai import catalog
from edgeai import stacks as naming
from edgeai.composition import Release
from edgeai.fleet import Environment
from stacks import cloud, common
from stacks.common import Builder, ClusterConfig, peers, tcp
from stacks.training import workloads

SITE = naming.TRAINING          # global.site of the reused charts, label edgeai.io/site
REGION = "cloud"
TRAINING_NS = "edgeai-training"       # MLflow, Postgres, landing, retraining
OBJECT_STORE_NS = "edgeai-object-store"
CHART_COMPONENTS = ("kafka", "monitoring", "logging")   # our charts, reused in the cloud
SECRET_KEYS = tuple(k.key for k in naming.TRAINING_CONFIG if k.secret and k.required)
DB_SECRET, STORE_SECRET = "mlflow-db", "object-store-credentials"
PASSWORD = re.compile(r"[A-Za-z0-9._~+/-]{16,}")   # what charts/kafka's topics Job accepts for a SCRAM user
RETRAIN_SCHEDULE = "0 3 * * 0"   # weekly; the CronJob is suspended until a team enables it


@dataclass(frozen=True)
class TrainingConfig:
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    object_store_endpoint: str | None = None     # None: in-cluster MinIO

    @staticmethod
    def from_pulumi() -> TrainingConfig:
        cfg = common.config()
        return TrainingConfig(ClusterConfig.from_pulumi(cfg), common.require_secrets(cfg, naming.TRAINING_CONFIG),
                              cfg.get("objectStoreEndpoint"))


@dataclass(frozen=True)
class Plan:
    """What the training side of an environment is, derived from its files (and the store endpoint)."""
    bucket: str
    object_store_uri: str
    object_store_endpoint: str
    in_cluster_store: bool
    kafka_brokers: int
    ingest_endpoint: str
    registry_url: str
    remote_write: str
    elasticsearch: str

    def outputs(self) -> dict[str, str]:
        return {cloud.INGEST_ENDPOINT: self.ingest_endpoint, cloud.REGISTRY_URL: self.registry_url,
                cloud.OBJECT_STORE_URI: self.object_store_uri,
                cloud.OBJECT_STORE_ENDPOINT: self.object_store_endpoint,
                cloud.REMOTE_WRITE: self.remote_write, cloud.ELASTICSEARCH: self.elasticsearch}


def plan(env: Environment, object_store_endpoint: str | None = None) -> Plan:
    declared = env.cloud
    uri = declared.get("objectStore") or f"s3://edgeai-{env.name}-landing"
    prometheus = catalog.service_host("monitoring", "monitoring-prometheus")
    return Plan(
        bucket=cloud.bucket_of(uri), object_store_uri=uri,
        object_store_endpoint=object_store_endpoint
        or f"http://object-store.{OBJECT_STORE_NS}.svc.cluster.local:{workloads.PORTS['minio']}",
        in_cluster_store=object_store_endpoint is None,
        # Development environments get one broker; the others a replicated cluster (3/2).
        kafka_brokers=1 if env.config["tier"] == "development" else 3,
        ingest_endpoint=declared.get("kafkaBootstrap") or f"{catalog.service_host('kafka')}:9092",
        registry_url=f"http://mlflow.{TRAINING_NS}.svc.cluster.local:{workloads.PORTS['mlflow']}",
        remote_write=declared.get("prometheusRemoteWrite") or f"http://{prometheus}:9090/api/v1/write",
        elasticsearch=declared.get("elasticsearch")
        or f"{catalog.service_host('logging', 'logging-elasticsearch')}:9200",
    )


def namespaces(p: Plan) -> list[str]:
    chart_ns = [catalog.COMPONENTS[c].namespace for c in CHART_COMPONENTS]
    return sorted({TRAINING_NS, *chart_ns, *([OBJECT_STORE_NS] if p.in_cluster_store else [])})


def mirrored(env: Environment) -> bool:
    """Whether the sites mirror their topics here: the composition turns MirrorMaker 2 on where the
    environment declares cloud.kafkaBootstrap, and only there does the aggregation Kafka listen for them."""
    return bool(env.cloud.get("kafkaBootstrap"))


def aggregation_listener(env: Environment, p: Plan) -> dict[str, Any]:
    """charts/kafka `external` values of the aggregation Kafka: the SASL_SSL listener the sites' MirrorMaker 2
    writes to over the WAN, with one SCRAM user per site named after it (the username of the site's Secret
    kafka-mirror-target), created by the chart's topics Job and revoked when the site leaves the fleet.
    Every broker has a load balancer of its own: broker i is advertised as kafka-<i>.<domain> of the declared
    bootstrap host (which may point at any of them), a single broker as that host itself."""
    if not mirrored(env):
        return {}
    host, _, port = env.cloud["kafkaBootstrap"].rpartition(":")
    label, _, domain = host.partition(".")
    hosts = [host] if p.kafka_brokers == 1 else [f"{label}-{i}.{domain}" for i in range(p.kafka_brokers)]
    return {"external": {"enabled": True, "service": {"type": "LoadBalancer", "port": int(port)},
                         "advertisedHosts": hosts, "users": [{"name": s} for s in sorted(env.sites)]}}


def mirror_users(env: Environment, lines: str) -> str:
    """The Secret kafka-external-users' `users` text from the kafkaMirrorPasswords config: exactly one
    '<site> <password>' line per site of the environment (a missing site could not mirror, an unknown
    one is a site that left the fleet and keeps its access)."""
    rows = [(i, line.split()) for i, line in enumerate(lines.splitlines(), 1) if line.strip()]
    pairs = [fields for _, fields in rows if len(fields) == 2]
    names = [n for n, _ in pairs]
    sites = set(env.sites)
    problems = [  # never the text of a line: it holds a password
        *(f"line {i} is not '<site> <password>'" for i, fields in rows if len(fields) != 2),
        *(f"the password of site {n} is not 16 or more of A-Z a-z 0-9 . _ ~ + / -"
          for n, pw in pairs if not PASSWORD.fullmatch(pw)),
        *(f"no line for site {s}" for s in sorted(sites - set(names))),
        *(f"'{n}' is not a site of environment {env.name}" for n in sorted(set(names) - sites)),
        *(f"site {n} has {names.count(n)} lines" for n in sorted(set(names)) if names.count(n) > 1)]
    if problems:
        raise ValueError(f"training stack of {env.name}: config edgeai:kafkaMirrorPasswords: {'; '.join(problems)}; "
                         "give one '<site> <password>' line per site (the site stack's kafkaMirrorPassword)")
    return "".join(f"{n} {pw}\n" for n, pw in pairs)


def chart_releases(env: Environment, p: Plan) -> list[Release]:
    """Our charts, reused in the cloud, as releases (same shape as the composition's)."""
    global_values: dict[str, Any] = {"environment": env.name, "site": SITE, "region": REGION,
                                     "owner": env.config["owner"], "nodeCount": p.kafka_brokers,
                                     "storageClass": ""}
    if mirror := env.config.get("images", {}).get("mirror"):
        global_values["imageRegistry"] = mirror
    ns = {c: catalog.COMPONENTS[c].namespace for c in CHART_COMPONENTS}

    def network_policy(ingress: list[str], egress: list[str] = ()) -> dict[str, Any]:
        return {"enabled": True, "ingressNamespaces": sorted(ingress), "egressNamespaces": sorted(egress),
                "egressCIDRs": []}

    values = {
        "kafka": {"brokers": p.kafka_brokers, **aggregation_listener(env, p),
                  "networkPolicy": {**network_policy([TRAINING_NS, ns["monitoring"]]),
                                    **({"exposedTo": ["0.0.0.0/0"]} if mirrored(env) else {})}},
        "monitoring": {"scrapeNamespaces": namespaces(p),
                       "prometheus": {"remoteWriteReceiver": True},  # the sites' Prometheus write here
                       "networkPolicy": network_policy([ns["logging"]], [n for n in namespaces(p)
                                                                         if n != ns["monitoring"]])},
        "logging": {"networkPolicy": network_policy([ns["monitoring"], TRAINING_NS])},
    }
    return [Release(name=c, component=c, chart=f"charts/{catalog.COMPONENTS[c].chart}", namespace=ns[c],
                    sync_wave=0, values={"global": dict(global_values), **values[c]})
            for c in CHART_COMPONENTS]


def _workload_policies(b: Builder, p: Plan) -> None:
    """Allow rules of the workloads (our charts bring their own)."""
    kafka_ns, monitoring_ns = catalog.COMPONENTS["kafka"].namespace, catalog.COMPONENTS["monitoring"].namespace
    store_peers = (peers([OBJECT_STORE_NS]) if p.in_cluster_store else common.ANYWHERE)
    store_port = workloads.PORTS["minio"] if p.in_cluster_store else 443
    app = "app.kubernetes.io/name"
    b.network_policy(TRAINING_NS, "postgres", {
        "podSelector": {"matchLabels": {app: "postgres"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": peers(pods={app: "mlflow"}), "ports": tcp(workloads.PORTS["postgres"])}]})
    b.network_policy(TRAINING_NS, "mlflow", {
        "podSelector": {"matchLabels": {app: "mlflow"}}, "policyTypes": ["Ingress", "Egress"],
        # The registry serves every namespace of the cluster (training jobs, CI, users' port-forward).
        "ingress": [{"from": [{"namespaceSelector": {}}], "ports": tcp(workloads.PORTS["mlflow"])}],
        "egress": [{"to": peers(pods={app: "postgres"}), "ports": tcp(workloads.PORTS["postgres"])},
                   {"to": store_peers, "ports": tcp(store_port)}]})
    b.network_policy(TRAINING_NS, "landing", {
        "podSelector": {"matchLabels": {app: "landing"}}, "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": peers([monitoring_ns]), "ports": tcp(workloads.PORTS["landing"])}],
        "egress": [{"to": peers([kafka_ns]), "ports": tcp(9092)}, {"to": store_peers, "ports": tcp(store_port)}]})
    b.network_policy(TRAINING_NS, "retrain", {
        "podSelector": {"matchLabels": {app: "retrain"}}, "policyTypes": ["Egress"],
        "egress": [{"to": peers(pods={app: "mlflow"}), "ports": tcp(workloads.PORTS["mlflow"])},
                   {"to": store_peers, "ports": tcp(store_port)}]})
    if p.in_cluster_store:
        b.network_policy(OBJECT_STORE_NS, "object-store", {
            "podSelector": {"matchLabels": {app: "object-store"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": peers([TRAINING_NS]), "ports": tcp(workloads.PORTS["minio"])},
                        {"from": peers([monitoring_ns]), "ports": tcp(workloads.PORTS["minio"])}]})


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}


def _service(b: Builder, ns: str, name: str, port: int, *depends_on: pulumi.Resource) -> k8s.core.v1.Service:
    return k8s.core.v1.Service(f"{ns}/{name}", metadata=b.meta(name, ns, labels=_labels(name)), spec={
        "selector": _labels(name), "ports": [{"name": "http" if name != "postgres" else "postgres",
                                              "port": port, "targetPort": port}]},
        opts=b.opts(b.namespaces[ns], *depends_on))


def build(env: Environment, config: TrainingConfig) -> dict[str, Any]:
    """Every resource of the environment's training stack; returns its outputs (none secret)."""
    missing = [k for k in SECRET_KEYS if k not in config.secrets]
    if missing:
        raise ValueError(f"training stack of {env.name}: missing secret config {', '.join(missing)}")
    p = plan(env, config.object_store_endpoint)
    mirror = env.config.get("images", {}).get("mirror")
    b = Builder(env, common.provider("training", config.cluster), SITE, REGION)
    for ns in namespaces(p):
        b.namespace(ns, "restricted")
        b.baseline_policies(ns)
    _workload_policies(b, p)
    s = config.secrets

    # Credentials: the object store's in every namespace that talks to it; the database's.
    store_data = {"access-key-id": s["objectStoreAccessKeyId"], "secret-access-key": s["objectStoreSecretAccessKey"]}
    store_secrets = [b.secret(ns, STORE_SECRET, store_data)
                     for ns in ([TRAINING_NS, OBJECT_STORE_NS] if p.in_cluster_store else [TRAINING_NS])]
    db_uri = pulumi.Output.from_input(s["postgresPassword"]).apply(
        lambda pw: f"postgresql+psycopg2://mlflow:{quote(pw, safe='')}@postgres.{TRAINING_NS}.svc.cluster.local:"
                   f"{workloads.PORTS['postgres']}/mlflow")
    db_secret = b.secret(TRAINING_NS, DB_SECRET, {"password": s["postgresPassword"], "uri": db_uri})
    grafana = b.secret(catalog.COMPONENTS["monitoring"].namespace, "grafana-admin",
                       {"admin-user": "admin", "admin-password": s["grafanaAdminPassword"]})

    store_ready: list[pulumi.Resource] = [*store_secrets]
    if p.in_cluster_store:
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{OBJECT_STORE_NS}/object-store", metadata=b.meta("object-store", OBJECT_STORE_NS),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}},
            opts=b.opts(b.namespaces[OBJECT_STORE_NS]))
        store = k8s.apps.v1.Deployment(
            f"{OBJECT_STORE_NS}/object-store", metadata=b.meta("object-store", OBJECT_STORE_NS,
                                                               labels=_labels("object-store")),
            spec={"replicas": 1, "strategy": {"type": "Recreate"},
                  "selector": {"matchLabels": _labels("object-store")},
                  "template": workloads.mirrored(
                      workloads.minio_pod(_labels("object-store"), store_secret=STORE_SECRET), mirror)},
            opts=b.opts(pvc, *store_secrets))
        store_ready += [store, _service(b, OBJECT_STORE_NS, "object-store", workloads.PORTS["minio"], store)]

    postgres = k8s.apps.v1.StatefulSet(
        f"{TRAINING_NS}/postgres", metadata=b.meta("postgres", TRAINING_NS, labels=_labels("postgres")), spec={
            "serviceName": "postgres", "replicas": 1, "selector": {"matchLabels": _labels("postgres")},
            "template": workloads.mirrored(workloads.postgres_pod(_labels("postgres"), db_secret=DB_SECRET), mirror),
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}}]},
        opts=b.opts(db_secret))
    _service(b, TRAINING_NS, "postgres", workloads.PORTS["postgres"], postgres)
    mlflow = k8s.apps.v1.Deployment(
        f"{TRAINING_NS}/mlflow", metadata=b.meta("mlflow", TRAINING_NS, labels=_labels("mlflow")), spec={
            "replicas": 1, "selector": {"matchLabels": _labels("mlflow")},
            "template": workloads.mirrored(workloads.mlflow_pod(
                _labels("mlflow"), namespace=TRAINING_NS, artifacts=f"s3://{p.bucket}/{cloud.MLFLOW_PREFIX}",
                object_store_endpoint=p.object_store_endpoint, db_secret=DB_SECRET,
                store_secret=STORE_SECRET, bucket=p.bucket), mirror)},
        opts=b.opts(postgres, *store_ready))
    _service(b, TRAINING_NS, "mlflow", workloads.PORTS["mlflow"], mlflow)

    kafka_ns = catalog.COMPONENTS["kafka"].namespace
    kafka_secrets = [] if not mirrored(env) else [
        b.secret(kafka_ns, "kafka-external-tls", {"tls.crt": s["kafkaExternalTlsCert"],
                                                  "tls.key": s["kafkaExternalTlsKey"]}, type="kubernetes.io/tls"),
        b.secret(kafka_ns, "kafka-external-users", {"users": pulumi.Output.from_input(
            s["kafkaMirrorPasswords"]).apply(lambda lines: mirror_users(env, lines))})]
    charts = {}
    for release in chart_releases(env, p):   # local chart paths, relative to the project root
        charts[release.name] = k8s.helm.v3.Release(
            release.name, name=release.name, namespace=release.namespace, chart=release.chart,
            dependency_update=True, values=release.values, create_namespace=False, atomic=True,
            cleanup_on_fail=True, max_history=5, timeout=900,
            opts=b.opts(b.namespaces[release.namespace], grafana if release.name == "monitoring" else None,
                        *(kafka_secrets if release.name == "kafka" else [])))

    k8s.apps.v1.Deployment(
        f"{TRAINING_NS}/landing", metadata=b.meta("landing", TRAINING_NS, labels=_labels("landing")), spec={
            "replicas": 1, "selector": {"matchLabels": _labels("landing")},
            "template": workloads.mirrored(workloads.landing_pod(
                _labels("landing"), bootstrap=f"{catalog.service_host('kafka')}:9092", topics=catalog.TOPICS,
                bucket=p.bucket, endpoint=p.object_store_endpoint, prefix=cloud.EDGE_PREFIX,
                store_secret=STORE_SECRET), mirror)},
        opts=b.opts(charts["kafka"], mlflow, *store_secrets))   # mlflow's init container creates the bucket

    retrain = workloads.retrain_job_template(
        _labels("retrain"), registry=p.registry_url, object_store_endpoint=p.object_store_endpoint,
        landing_uri=f"s3://{p.bucket}/{cloud.EDGE_PREFIX}/", store_secret=STORE_SECRET,
        models=[m.file.data for _, m in sorted(env.models.items()) if "retrain" in m.file.data])
    workloads.mirrored(retrain["template"], mirror)
    k8s.batch.v1.CronJob(
        f"{TRAINING_NS}/retrain", metadata=b.meta("retrain", TRAINING_NS, labels=_labels("retrain")), spec={
            "schedule": RETRAIN_SCHEDULE, "suspend": True, "concurrencyPolicy": "Forbid",
            "jobTemplate": {"metadata": {"labels": _labels("retrain")}, "spec": retrain}},
        opts=b.opts(b.namespaces[TRAINING_NS], *store_secrets))

    return {
        "stack": str(naming.StackName(env.name)),
        "environment": env.name,
        **p.outputs(),
        "bucket": p.bucket,
        "bucketLayout": {"edge": f"s3://{p.bucket}/{cloud.EDGE_PREFIX}/<site>.<topic>/dt=<YYYY-MM-DD>/",
                         "redisSnapshots": f"s3://{p.bucket}/{cloud.SNAPSHOT_PREFIX}/<site>/<release>/",
                         "mlflowArtifacts": f"s3://{p.bucket}/{cloud.MLFLOW_PREFIX}/"},
        "namespaces": namespaces(p),
        "charts": [{"name": r.name, "chart": r.chart, "namespace": r.namespace} for r in chart_releases(env, p)],
    }
