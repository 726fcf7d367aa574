"""Pulumi stacks of the fleet: their names, the config each one reads, and its settings file.

One Pulumi project (Pulumi.yaml at the repository root), two kinds of stack:

- `<env>.training`: the environment's cloud side (object store, MLflow, Kafka aggregation, ...);
- `<env>.<site>`: one edge site of the environment.

Everything a stack builds follows from environments/<env>/ (the environment YAML is the single
source of truth). A stack's settings file (stacks/config/Pulumi.<stack>.yaml, Pulumi.yaml's
`stackConfigDir`) holds only secrets and credentials, encrypted by Pulumi; `edgeai stacks --env E`
creates the missing ones with a comment naming what to set.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgeai import paths
from edgeai.problems import InputErrors, Problem

TRAINING = "training"           # the stack name's second part for the cloud (training) side
CONFIG_NAMESPACE = "edgeai"     # config keys are edgeai:<key>
DEFAULT_ORG = "organization"    # Pulumi organization of self-managed (DIY) backends
SETTINGS_DIR = Path("stacks") / "config"   # = stackConfigDir in Pulumi.yaml (relative to the root)


@dataclass(frozen=True)
class StackName:
    environment: str
    site: str | None = None     # None: the environment's training stack

    @property
    def is_training(self) -> bool:
        return self.site is None

    def __str__(self) -> str:
        return f"{self.environment}.{self.site or TRAINING}"


def parse(name: str) -> StackName:
    """A stack name (`prod.fra-store-001`, `prod.training`, or fully qualified `org/edgeai/prod.training`)."""
    short = name.rsplit("/", 1)[-1]
    env, dot, rest = short.partition(".")
    if not dot or not env or not rest or "." in rest:
        raise InputErrors([Problem(Path("Pulumi.yaml"), None, (), f"stack name '{name}' is not "
                                   f"<env>.{TRAINING} or <env>.<site>",
                                   "e.g. pulumi stack select --create prod.fra-store-001")])
    return StackName(env, None if rest == TRAINING else rest)


def training_stack(environment: str, org: str = DEFAULT_ORG, project: str = "edgeai") -> str:
    """Fully qualified name of an environment's training stack, for a StackReference."""
    return f"{org}/{project}/{StackName(environment)}"


def stacks_of(env) -> list[StackName]:
    """Every stack of an environment (an edgeai.fleet.Environment): training first, then the sites."""
    if TRAINING in env.sites:
        raise InputErrors([env.sites[TRAINING].file.problem(
            ("name",), f"a site may not be named '{TRAINING}': it is the name of the environment's "
            "training stack", "rename the site")])
    return [StackName(env.name), *(StackName(env.name, s) for s in sorted(env.sites))]


def resolve(name: StackName, root: Path | None = None):
    """The environment (and site, None for training) a stack builds, loaded and checked."""
    from edgeai import fleet

    env = fleet.load_fleet([name.environment], root=root)[0]
    stacks_of(env)  # rejects a site named like the training stack
    if name.is_training:
        return env, None
    if name.site not in env.sites:
        raise InputErrors([Problem(env.directory / "sites" / f"{name.site}.yaml", None, (),
                                   f"stack '{name}': no site '{name.site}' in environment '{env.name}'",
                                   f"sites: {', '.join(sorted(env.sites))}")])
    return env, env.sites[name.site]


@dataclass(frozen=True)
class ConfigKey:
    """One `edgeai:<key>` a stack reads from its settings."""
    key: str
    description: str
    secret: bool = True
    required: bool = True
    example: str = "'<value>'"

    @property
    def full(self) -> str:
        return f"{CONFIG_NAMESPACE}:{self.key}"

    def command(self, stack: StackName) -> str:
        flag = " --secret" if self.secret else ""
        return f"pulumi config set{flag} --stack {stack} {self.full} {self.example}"


_CLUSTER = (
    ConfigKey("kubeconfig", "kubeconfig of the cluster (default: the ambient kubeconfig)",
              required=False, example='"$(cat kubeconfig.yaml)"'),
    ConfigKey("kubeContext", "context of the kubeconfig to use", secret=False, required=False,
              example="<context>"),
)
_OBJECT_STORE = (
    ConfigKey("objectStoreAccessKeyId", "access key id of the environment's object store"),
    ConfigKey("objectStoreSecretAccessKey", "secret access key of the environment's object store"),
)

SITE_CONFIG: tuple[ConfigKey, ...] = (
    ConfigKey("redisPassword", "Redis AUTH password (Secret redis-auth in edgeai-redis and edgeai-siddhi)"),
    ConfigKey("redisQueryPassword", "password of Redis' read-only user edgeai-query of the query API "
              "(Secret redis-query-auth in edgeai-redis)"),
    ConfigKey("grafanaAdminPassword", "Grafana admin password (Secret grafana-admin)"),
    ConfigKey("gatewayApiKeys", "API keys of the gateway's clients, one per line: <key> [<caller> [<models>]] "
              "(Secret gateway-api-keys)",
              example='"$(cat gateway-api-keys.txt)"'),
    ConfigKey("gatewayTlsCert", "PEM certificate (chain) of the gateway's external TLS listeners "
              "(Secret gateway-tls, kubernetes.io/tls); unused where cert-manager issues it",
              example='"$(cat gateway.crt)"'),
    ConfigKey("gatewayTlsKey", "PEM private key of that certificate (Secret gateway-tls)",
              example='"$(cat gateway.key)"'),
    ConfigKey("cepApiKey", "the CEP's API key for the gateway, an internal key with its own rate limit "
              "(Secrets cep-api-key in edgeai-siddhi, gateway-api-keys/internal-keys)",
              example='"$(openssl rand -hex 24)"'),
    ConfigKey("ingestDeviceKeys", "devices' keys, one '<key> [<device>]' line per device: the bearer key of the "
              "gateway's /v1/events route and the MQTT password of user <device> (Secrets ingest-devices in "
              "edgeai-gateway and edgeai-ingest; used on sites that declare components.ingest)",
              example='"$(cat ingest-devices.txt)"'),
    ConfigKey("ingestBridgePassword", "MQTT password of the ingest bridge's user ingest-bridge (Secret ingest-bridge)",
              example='"$(openssl rand -hex 24)"'),
    ConfigKey("kafkaExternalTlsCert", "PEM certificate (chain) of Kafka's external SASL_SSL listener, naming "
              "the site's external.advertisedHosts (Secret kafka-external-tls)",
              example='"$(cat kafka-external.crt)"'),
    ConfigKey("kafkaExternalTlsKey", "PEM private key (PKCS#8, unencrypted) of that certificate "
              "(Secret kafka-external-tls)", example='"$(cat kafka-external.key)"'),
    ConfigKey("kafkaExternalUsers", "passwords of the SCRAM users of Kafka's external listener, one "
              "'<name> <password>' line per user the site file declares (Secret kafka-external-users)",
              example='"$(cat kafka-external-users.txt)"'),
    ConfigKey("kafkaMirrorPassword", "SCRAM password of the site's user (named after the site) on the cloud "
              "Kafka that MirrorMaker 2 writes to, the site's line of the training stack's kafkaMirrorPasswords "
              "(Secret kafka-mirror-target)"),
    ConfigKey("kafkaMirrorCA", "PEM CA certificate MirrorMaker 2 trusts for the cloud Kafka when the environment "
              "declares no cloud.kafkaCA (key ca.crt of Secret kafka-mirror-target); unset: the JVM's public CAs",
              secret=False, required=False, example='"$(cat cloud-kafka-ca.crt)"'),
    ConfigKey("logWriterPassword", "password of the Elasticsearch user edgeai_log_writer the log agent writes "
              "as (Secrets log-agent-elasticsearch, elasticsearch-credentials); sites that ship to the "
              "central Elasticsearch need the same user there"),
    ConfigKey("elasticPassword", "password of the superuser elastic of a site's own Elasticsearch "
              "(Secret elasticsearch-credentials)"),
    ConfigKey("kibanaPassword", "password of Kibana's Elasticsearch user edgeai_kibana "
              "(Secret elasticsearch-credentials)"),
    ConfigKey("elasticsearchMetricsPassword", "password of the metrics exporter's Elasticsearch user "
              "edgeai_metrics (Secret elasticsearch-credentials)"),
    *_OBJECT_STORE,
    *_CLUSTER,
    ConfigKey("org", f"Pulumi organization of the training stack (default {DEFAULT_ORG})",
              secret=False, required=False, example="<org>"),
)

TRAINING_CONFIG: tuple[ConfigKey, ...] = (
    ConfigKey("postgresPassword", "password of MLflow's Postgres database"),
    ConfigKey("grafanaAdminPassword", "Grafana admin password of the central monitoring"),
    *_OBJECT_STORE,
    ConfigKey("kafkaExternalTlsCert", "PEM certificate (chain) of the aggregation Kafka's SASL_SSL listener the "
              "sites' MirrorMaker 2 writes to, naming the host of cloud.kafkaBootstrap and kafka-<i>.<its domain> "
              "per broker (Secret kafka-external-tls)", example='"$(cat kafka-aggregation.crt)"'),
    ConfigKey("kafkaExternalTlsKey", "PEM private key (PKCS#8, unencrypted) of that certificate "
              "(Secret kafka-external-tls)", example='"$(cat kafka-aggregation.key)"'),
    ConfigKey("kafkaMirrorPasswords", "SCRAM passwords of the sites' users on that listener, one "
              "'<site> <password>' line per site of the environment, each the kafkaMirrorPassword of that "
              "site's stack (Secret kafka-external-users)", example='"$(cat kafka-mirror-passwords.txt)"'),
    *_CLUSTER,
    ConfigKey("objectStoreEndpoint", "S3 API endpoint of an external object store (default: an "
              "in-cluster MinIO)", secret=False, required=False, example="https://s3.eu-central-1.amazonaws.com"),
)


def config_keys(name: StackName) -> tuple[ConfigKey, ...]:
    return TRAINING_CONFIG if name.is_training else SITE_CONFIG


def settings_path(name: StackName, root: Path | None = None) -> Path:
    return (root or paths.ROOT) / SETTINGS_DIR / f"Pulumi.{name}.yaml"


def settings_text(name: StackName) -> str:
    """A minimal settings file: no values, a comment saying which secrets to set and how."""
    what = (f"the training (cloud) side of environment {name.environment}" if name.is_training
            else f"edge site {name.site} of environment {name.environment}")
    keys = config_keys(name)
    width = max(len(k.command(name)) for k in keys)
    lines = [
        f"# Pulumi stack settings of {name}: {what}.",
        f"# Everything the stack builds comes from environments/{name.environment}/; this file holds only",
        "# secrets and credentials, encrypted by Pulumi. Set them from the repository root:",
        "#",
        f"#   pulumi stack select --create {name}",
    ]
    for required in (True, False):
        chosen = [k for k in keys if k.required is required]
        if chosen:
            lines.append("#" if required else "# optional:")
            lines += [f"#   {k.command(name):<{width}}  # {k.description}" for k in chosen]
    return "\n".join(lines) + "\nconfig: {}\n"


def ensure_settings(name: StackName, root: Path | None = None) -> tuple[Path, bool]:
    """Create the stack's settings file unless it exists; (path, created). Never overwrites.

    Written to a temporary file in the same folder, then hard-linked into place: the file
    appears complete or not at all, and the link fails rather than replace an existing file
    (even one created concurrently)."""
    path = settings_path(name, root)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(settings_text(name))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path, False
    finally:
        os.unlink(tmp)
    return path, True
