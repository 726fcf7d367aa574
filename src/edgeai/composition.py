"""The heart of the platform: (environment, site) -> the releases the site runs.

A pure function of the environment files. The Pulumi site stack turns its result into
Argo CD Applications, `edgeai validate` renders it with helm, `edgeai up` installs it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from edgeai import catalog, paths
from edgeai.catalog import COMPONENTS, Component, service_host
from edgeai.layers import Layer, deep_merge

if TYPE_CHECKING:
    from edgeai.fleet import Environment, Model, Site


@dataclass(frozen=True)
class Release:
    name: str
    component: str
    chart: str             # path of the chart in this repository, e.g. charts/kafka
    namespace: str
    sync_wave: int
    values: dict[str, Any]  # what the Argo CD Application carries inline
    layers: tuple[Layer, ...] = field(default=(), compare=False, repr=False)

    @property
    def pod_security(self) -> str:
        return COMPONENTS[self.component].pod_security


@functools.cache
def platform() -> dict[str, Any]:
    return yaml.safe_load(resources.files("edgeai").joinpath("platform.yaml").read_text())


@functools.cache
def chart_defaults(chart: str) -> dict[str, Any]:
    """A chart's values.yaml (deep_merge copies it: the cached dict is never changed)."""
    return yaml.safe_load((paths.CHARTS / chart / "values.yaml").read_text())


def settings() -> dict[str, Any]:
    return platform()["settings"]


def kafka_brokers(site: Site) -> int:
    return min(site.node_count, settings()["maxKafkaBrokers"])


def runs_local_elasticsearch(site: Site) -> bool:
    return site.memory_gi_total >= settings()["localElasticsearchMinMemoryGi"]


def components_of(env: Environment, site: Site) -> list[Component]:
    """The components a site runs: all of them, except local Elasticsearch on small sites, and
    the log agent when it has nowhere to ship to."""
    out = []
    for c in COMPONENTS.values():
        if c.name == "logging" and not runs_local_elasticsearch(site):
            continue
        if c.name == "log-agent" and not (runs_local_elasticsearch(site) or env.cloud.get("elasticsearch")):
            continue
        if c.per_model and not env.placed_models(site):
            continue
        if c.name == "ingest" and not declares(env, site, "ingest"):
            continue
        out.append(c)
    return out


def declares(env: Environment, site: Site, component: str) -> bool:
    """Whether the environment or the site file has a `components.<component>` block (opt-in components)."""
    return any(component in (f.data.get("components") or {}) for f in (env.file, site.file))


def chosen_values(env: Environment, site: Site, component: str) -> dict[str, Any]:
    """A component's values as its chart sees them before derivation (chart defaults, platform,
    environment, site): what another release's derived values follow."""
    return deep_merge(chart_defaults(COMPONENTS[component].chart), platform()["components"].get(component, {}),
                      *(Layer(f, ("components", component)).values for f in (env.file, site.file)))


def http_ingest(env: Environment, site: Site, names: set[str]) -> dict[str, Any] | None:
    """The ingest release's values when the site (running `names`) takes device events over HTTP: the
    gateway's /v1/events route follows its topics and per-device limit. None otherwise."""
    if "ingest" not in names:
        return None
    values = chosen_values(env, site, "ingest")
    return values if values["http"]["enabled"] else None


def _global(env: Environment, site: Site) -> dict[str, Any]:
    out = {
        "environment": env.name,
        "site": site.name,
        "region": site.region,
        "owner": env.config["owner"],
        "nodeCount": site.node_count,
        "storageClass": site.storage_class,
    }
    if mirror := env.config.get("images", {}).get("mirror"):
        out["imageRegistry"] = mirror
    return out


def _network_policy(env: Environment, site: Site, component: Component,
                    present: list[Component]) -> dict[str, Any]:
    """Allow exactly the data path: who may call this component, and whom it may call."""
    names = {c.name for c in present}
    callers = sorted({c.namespace for c in present if component.name in c.needs})
    if component.name != "monitoring" and "monitoring" in names:
        callers.append(COMPONENTS["monitoring"].namespace)  # Prometheus scrapes every component
    if component.name == "monitoring":
        callees = sorted({c.namespace for c in present if c.name != "monitoring"})
    else:
        callees = sorted({COMPONENTS[n].namespace for n in component.needs if n in names})
    if component.name == "gateway" and query_api_enabled(env, site):
        # The route /v1/query/ to the query API; its own policy admits the gateway on its port only.
        callees = sorted({*callees, COMPONENTS["redis"].namespace})
    if component.name in ("gateway", "ingest") and http_ingest(env, site, names):
        # The gateway's /v1/events route to the ingest bridge (HTTP devices).
        if component.name == "gateway":
            callees = sorted({*callees, COMPONENTS["ingest"].namespace})
        else:
            callers = sorted({*callers, COMPONENTS["gateway"].namespace})
    cidrs = list(env.cloud.get("egressCIDRs", [])) if component.cloud_egress else []
    if component.api_client and site.file.data.get("apiServerCIDR"):
        cidrs.append(site.file.data["apiServerCIDR"])
    return {"enabled": True, "ingressNamespaces": sorted(set(callers)),
            "egressNamespaces": callees, "egressCIDRs": cidrs}


def query_api_enabled(env: Environment, site: Site) -> bool:
    """Whether the site's redis release runs the query API (charts/redis `query.enabled`, as layered)."""
    return bool(chosen_values(env, site, "redis")["query"]["enabled"])


def _derived(env: Environment, site: Site, component: Component, present: list[Component],
             model: Model | None) -> dict[str, Any]:
    """Values that follow from the site's facts rather than from anybody's choice."""
    cloud = env.cloud
    values: dict[str, Any] = {"global": _global(env, site),
                              "networkPolicy": _network_policy(env, site, component, present)}
    name = component.name
    if name == "kafka":
        values["brokers"] = kafka_brokers(site)
        if cloud.get("kafkaBootstrap"):
            # Over the WAN: TLS and a SCRAM user per site (Secret kafka-mirror-target, from the site stack).
            values["mirrorMaker"] = {"enabled": True, "targetBootstrap": cloud["kafkaBootstrap"],
                                     "targetAuth": {"enabled": True,
                                                    **({"trustedCA": cloud["kafkaCA"]} if "kafkaCA" in cloud else {})}}
    elif name == "model-serving" and model is not None:
        spec = {k: model.file.data[k] for k in ("name", "framework", "uri")}
        spec.update(replicas=model.replicas, gpu=model.gpu)
        if "version" in model.file.data:
            spec["version"] = str(model.file.data["version"])
        if model.canary:  # absent rather than null: Pulumi drops nulls inside Application values
            spec["canary"] = {**model.canary, **({"version": str(model.canary["version"])}
                                                 if "version" in model.canary else {})}
        values["model"] = spec
        if model.gpu:  # a GPU replica beyond the site's GPUs would only wait, Pending
            gpu_slots = site.gpus_per_node * site.node_count // model.gpu
            values["autoscaling"] = {"maxReplicas": max(model.replicas, gpu_slots)}
    elif name == "gateway":
        values["routes"] = [_route(m) for m in env.placed_models(site)]
        if query_api_enabled(env, site):
            values["query"] = {"service": service_host("redis", "redis-query")}
        if ingest := http_ingest(env, site, {c.name for c in present}):
            values["ingest"] = {"enabled": True, "service": service_host("ingest"), "topics": ingest["topics"],
                                "perDevice": ingest["http"]["perDevice"]}
        if site.node_count > 1:  # stateless entry point of every model call: survive a node (EAI-REL-007)
            values["replicas"] = 2
    elif name == "ingest":
        values["kafka"] = {"bootstrapServers": f"{service_host('kafka')}:9092"}
    elif name == "redis":
        names = {c.name for c in present}
        # The query API (when on): its port for the gateway, its metrics for Prometheus, nobody else.
        values["query"] = {
            "ingressNamespaces": [COMPONENTS["gateway"].namespace] if "gateway" in names else [],
            "metricsNamespaces": [COMPONENTS["monitoring"].namespace] if "monitoring" in names else []}
        if str(cloud.get("objectStore", "")).startswith("s3://"):
            # Hourly RDB snapshots to the environment's bucket, where the training stack finds them
            # (rclone remote from the site stack's Secret redis-snapshot-storage).
            bucket = catalog.bucket_of(cloud["objectStore"])
            values["snapshotSync"] = {"enabled": True,
                                      "destination": f"{catalog.RCLONE_REMOTE}:{bucket}/{catalog.SNAPSHOT_PREFIX}"}
    elif name == "siddhi":
        values["kafka"] = {"bootstrapServers": f"{service_host('kafka')}:9092"}
        values["inference"] = {"url": f"http://{service_host('gateway')}:8080"}
        scored = chosen_values(env, site, "siddhi")["inference"]["model"]
        for m in env.placed_models(site):
            if m.name == scored and "lowConfidenceThreshold" in (m.file.data.get("retrain") or {}):
                values["inference"]["lowConfidenceThreshold"] = m.file.data["retrain"]["lowConfidenceThreshold"]
    elif name == "monitoring":
        values["scrapeNamespaces"] = sorted(c.namespace for c in present)
        drifting = [m for m in env.placed_models(site) if m.file.data.get("drift")]
        if drifting:
            values["modelDrift"] = {"models": [{"name": m.name, "threshold": m.file.data["drift"].get("threshold", 0.2),
                                                "reference": m.file.data["drift"]["reference"]} for m in drifting]}
        if cloud.get("prometheusRemoteWrite"):
            values["remoteWrite"] = {"url": cloud["prometheusRemoteWrite"]}
    elif name == "log-agent":
        local = runs_local_elasticsearch(site)
        host = (f"{service_host('logging', 'logging-elasticsearch')}:9200" if local
                else cloud["elasticsearch"])
        es_host, _, es_port = host.rpartition(":")
        output = {"host": es_host, "port": int(es_port), "tls": {"enabled": not local}}
        values.update(agent={"enabled": True, "output": {"elasticsearch": output}},
                      elasticsearch={"enabled": False}, kibana={"enabled": False},
                      tolerations=[{"operator": "Exists"}])  # every node, tainted GPU nodes too
    return values


def _route(model: Model) -> dict[str, Any]:
    route: dict[str, Any] = {"model": model.name,
                             "service": service_host("model-serving", model.name)}
    if model.canary:
        route["canary"] = {"service": service_host("model-serving", f"{model.name}-canary"),
                           "weight": model.canary["weight"]}
    return route


def release_name(component: Component, model: Model | None = None) -> str:
    return f"model-{model.name}" if model is not None else component.name


def compose(env: Environment, site: Site) -> list[Release]:
    """Every release the site runs, in sync-wave order; deterministic for the same files."""
    present = components_of(env, site)
    releases = []
    for component in present:
        layers = (Layer(env.file, ("components", component.name)),
                  Layer(site.file, ("components", component.name)))
        for model in env.placed_models(site) if component.per_model else [None]:
            values = deep_merge(platform()["components"].get(component.name, {}),
                                _derived(env, site, component, present, model),
                                *(layer.values for layer in layers))
            releases.append(Release(
                name=release_name(component, model), component=component.name,
                chart=f"charts/{component.chart}", namespace=component.namespace,
                sync_wave=component.sync_wave, values=values, layers=layers))
    return sorted(releases, key=lambda r: (r.sync_wave, r.name))


def namespaces(releases: list[Release]) -> dict[str, str]:
    """Namespace -> Pod Security level, for the site stack and local deploys."""
    return {r.namespace: r.pod_security for r in releases}

