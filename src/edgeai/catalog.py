"""The platform's components, their namespaces and dependencies, and the label keys: named once.

Everything else (composition, Pulumi stacks, the gate, tests) imports these; the
charts receive namespaces and service addresses as values derived from here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

LABEL_PREFIX = "edgeai.io"
LABELS = {
    "environment": f"{LABEL_PREFIX}/environment",
    "site": f"{LABEL_PREFIX}/site",
    "region": f"{LABEL_PREFIX}/region",
    "owner": f"{LABEL_PREFIX}/owner",
}
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"


@dataclass(frozen=True)
class Component:
    name: str                   # key under `components:` in environment files; release name
    chart: str                  # folder under charts/
    namespace: str
    needs: tuple[str, ...] = ()  # components it calls: sync order and NetworkPolicy egress
    pod_security: str = "restricted"
    per_model: bool = False     # one release per model placed on the site
    cloud_egress: bool = False  # reaches the environment's cloud endpoints (cloud.egressCIDRs)
    api_client: bool = False    # talks to the Kubernetes API (service discovery, log metadata)

    @property
    def sync_wave(self) -> int:
        return _wave(self.name)


COMPONENTS: dict[str, Component] = {c.name: c for c in (
    Component("monitoring", "monitoring", "edgeai-monitoring", cloud_egress=True,  # remote write
              api_client=True),                                 # discovers scrape targets
    Component("logging", "logging", "edgeai-logging"),
    # Tailing node log files needs hostPath, which only the privileged Pod Security level allows;
    # the agent is therefore a release of its own, in the one namespace that is not restricted.
    Component("log-agent", "logging", "edgeai-log-agent", needs=("logging",), pod_security="privileged",
              cloud_egress=True, api_client=True),              # cloud Elasticsearch; pod metadata
    Component("kafka", "kafka", "edgeai-kafka", cloud_egress=True),  # MirrorMaker 2 to the cloud
    Component("redis", "redis", "edgeai-redis", cloud_egress=True),  # snapshots to the object store
    Component("model-serving", "model-serving", "edgeai-models", per_model=True,
              cloud_egress=True),                               # fetches model artifacts
    Component("gateway", "gateway", "edgeai-gateway", needs=("model-serving",)),
    Component("siddhi", "siddhi", "edgeai-siddhi", needs=("kafka", "gateway", "redis")),
    # Device ingest (MQTT broker + the bridge into Kafka; HTTP through the gateway's /v1/events route):
    # only on the sites whose environment or site file declares components.ingest.
    Component("ingest", "ingest", "edgeai-ingest", needs=("kafka",)),
)}

CHARTS = tuple(sorted({c.chart for c in COMPONENTS.values()}))
LIBRARY_CHART = "edgeai-common"

# Kafka topics of the data path (ingest -> CEP -> alerts/aggregates).
TOPICS = ("sensor-events", "predictions", "predictions-low-confidence", "alerts", "aggregates")

# The environment's bucket (cloud.objectStore, else edgeai-<env>-landing), shared by the sites (which
# write snapshots and fetch models) and the training stack (which lands and trains):
EDGE_PREFIX = "edge"                  # edge/<site>.<topic>/dt=<YYYY-MM-DD>/<nanos>.jsonl (landing)
SNAPSHOT_PREFIX = "redis-snapshots"   # redis-snapshots/<site>/<release>/<UTC time>.rdb (redis chart)
MLFLOW_PREFIX = "mlflow"              # MLflow artifact root (runs and registered model versions)
RCLONE_REMOTE = "s3"                  # the rclone remote s3:// URIs resolve to (the site stack's rclone.conf)


def bucket_of(uri: str) -> str:
    """s3://bucket/any/prefix -> bucket."""
    return uri.split("://", 1)[1].split("/", 1)[0]


@dataclass(frozen=True)
class SiteSecret:
    """A Secret the site stack creates (from Pulumi secret config) for the charts to reference: charts
    never render one. Kubernetes lets a pod read only Secrets of its own namespace, so there is a copy
    in the namespace of every component whose pods mount it."""
    name: str
    keys: tuple[str, ...]
    components: tuple[str, ...]
    type: str = "Opaque"
    only_with: str | None = None   # created only on sites running this component


SITE_SECRETS: tuple[SiteSecret, ...] = (
    SiteSecret("redis-auth", ("password",), ("redis", "siddhi")),
    # The site's SCRAM user (named after the site) on the cloud Kafka that MirrorMaker 2 writes to.
    # ca.crt: the CA of its listener when the environment declares none (empty: the JVM's public CAs).
    SiteSecret("kafka-mirror-target", ("username", "password", "ca.crt"), ("kafka",)),
    SiteSecret("grafana-admin", ("admin-user", "admin-password"), ("monitoring",)),
    # Client keys, and the internal keys of in-site services (the CEP) with their own rate limit.
    # Key lines "<key> [<caller> [<models>]]" (charts/gateway/README.md); the gateway reloads on a change.
    SiteSecret("gateway-api-keys", ("keys", "internal-keys"), ("gateway",)),
    # The certificate of the gateway's external (TLS) listeners; on a site whose gateway values enable
    # tls.certManager, cert-manager issues it instead and the stack leaves it alone.
    # The MQTT broker of the ingest chart serves the same certificate.
    SiteSecret("gateway-tls", ("tls.crt", "tls.key"), ("gateway", "ingest"), type="kubernetes.io/tls"),
    SiteSecret("cep-api-key", ("key",), ("siddhi",)),           # the CEP's internal key
    # Devices' keys, "<key> [<device>]" lines: the gateway's ingest route (HTTPS, bearer key) and the
    # MQTT broker (username <device>, password <key>) authenticate devices with them; and the
    # password of the ingest bridge's own MQTT user.
    SiteSecret("ingest-devices", ("devices",), ("gateway", "ingest"), only_with="ingest"),
    SiteSecret("ingest-bridge", ("password",), ("ingest",)),
    # Kafka's external (SASL_SSL) listener for devices: its server certificate, and the SCRAM users'
    # passwords ("<name> <password>" lines) the topics Job creates the site file's users with.
    SiteSecret("kafka-external-tls", ("tls.crt", "tls.key"), ("kafka",), type="kubernetes.io/tls"),
    SiteSecret("kafka-external-users", ("users",), ("kafka",)),
    SiteSecret("model-storage", ("rclone.conf",), ("model-serving",)),
    SiteSecret("redis-snapshot-storage", ("rclone.conf",), ("redis",)),
    # The password of Redis' read-only ACL user of the query API (charts/redis `query`): redis-server
    # creates the user with it, the query pods log in with it.
    SiteSecret("redis-query-auth", ("password",), ("redis",)),
    # Users of a site's own Elasticsearch (file realm, created at its start) and of Kibana.
    SiteSecret("elasticsearch-credentials",
               ("elastic-password", "kibana-password", "log-writer-password", "metrics-password"), ("logging",)),
    SiteSecret("log-agent-elasticsearch", ("username", "password"), ("log-agent",)),
)


def site_secret_type(name: str) -> str:
    """The Kubernetes Secret type of a site Secret (kubernetes.io/tls for certificates)."""
    return next(s.type for s in SITE_SECRETS if s.name == name)


def site_secret_copies(components: set[str] | frozenset[str]) -> list[tuple[str, SiteSecret]]:
    """(namespace, secret) of every Secret copy a site with these components gets."""
    return [(COMPONENTS[c].namespace, s) for s in SITE_SECRETS for c in s.components
            if c in components and (s.only_with is None or s.only_with in components)]


# Frameworks served by each inference server (the model-serving chart maps them the same way).
SERVERS = {
    "mlserver": ("sklearn", "xgboost", "lightgbm", "mlflow", "huggingface"),
    "triton": ("onnx", "pytorch", "tensorflow"),
}
FRAMEWORKS = tuple(f for frameworks in SERVERS.values() for f in frameworks)


@functools.cache
def _wave(name: str) -> int:
    """Argo CD sync wave: one after the latest wave of anything the component needs."""
    needs = COMPONENTS[name].needs
    return 1 + max(map(_wave, needs)) if needs else 0


def service_host(component: str, service: str | None = None) -> str:
    """In-cluster DNS name of a component's Service (the release name unless given)."""
    return f"{service or component}.{COMPONENTS[component].namespace}.svc.cluster.local"
