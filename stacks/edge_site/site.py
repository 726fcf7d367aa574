"""The edge site stack (`<env>.<site>`): everything a site needs before its Argo CD takes over.

build(env, site, config) creates, on the site's cluster:
- a namespace per release namespace of the composition, plus argocd, labelled for Pod Security;
- in each: default-deny NetworkPolicy + DNS egress (the allow rules between components ship in
  the charts, from values.networkPolicy), a ResourceQuota and a LimitRange sized from the site;
- the Secrets the charts reference, from Pulumi secret config;
- Argo CD (its core install, built here at the pinned version), its own NetworkPolicies, an AppProject
  and ONE root Application tracking deploy/<env>/<site>/ (the rendered desired state) at the pinned
  revision: a change under environments/ reaches the site by merge alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from edgeai import catalog, composition
from edgeai import stacks as naming
from edgeai.composition import Release
from edgeai.fleet import Environment, Site
from edgeai.gitops import argocd as gitops_argocd
from edgeai.gitops.tree import site_path
from stacks import cloud, common
from stacks.common import Builder, ClusterConfig
from stacks.edge_site import argocd, guardrails

SECRET_KEYS = tuple(k.key for k in naming.SITE_CONFIG if k.secret and k.required)
# The logging chart's elasticsearch.security.writerUser: the log agent writes as this user.
LOG_WRITER_USER = "edgeai_log_writer"


@dataclass(frozen=True)
class SiteConfig:
    """The stack's settings: how to reach the cluster, its secrets, the training stack's org."""
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    org: str = naming.DEFAULT_ORG

    @staticmethod
    def from_pulumi() -> SiteConfig:
        cfg = common.config()
        secrets = {**common.require_secrets(cfg, naming.SITE_CONFIG), "kafkaMirrorCA": cfg.get("kafkaMirrorCA") or ""}
        return SiteConfig(ClusterConfig.from_pulumi(cfg), secrets,
                          cfg.get("org") or naming.DEFAULT_ORG)


def site_secrets(site: Site, releases: Sequence[Release], secrets: Mapping[str, pulumi.Input[str]],
                 rclone: pulumi.Input[str]) -> list[tuple[str, str, dict[str, pulumi.Input[str]]]]:
    """(namespace, Secret name, data) of every Secret the site's charts reference
    (catalog.SITE_SECRETS), in the namespaces of the components that mount them."""
    data: dict[str, dict[str, pulumi.Input[str]]] = {
        "redis-auth": {"password": secrets["redisPassword"]},
        "kafka-mirror-target": {"username": site.name, "password": secrets["kafkaMirrorPassword"],
                                "ca.crt": secrets.get("kafkaMirrorCA", "")},
        "grafana-admin": {"admin-user": "admin", "admin-password": secrets["grafanaAdminPassword"]},
        "gateway-api-keys": {"keys": secrets["gatewayApiKeys"], "internal-keys": secrets["cepApiKey"]},
        "gateway-tls": {"tls.crt": secrets["gatewayTlsCert"], "tls.key": secrets["gatewayTlsKey"]},
        "cep-api-key": {"key": secrets["cepApiKey"]},
        "ingest-devices": {"devices": secrets["ingestDeviceKeys"]},
        "ingest-bridge": {"password": secrets["ingestBridgePassword"]},
        "kafka-external-tls": {"tls.crt": secrets["kafkaExternalTlsCert"], "tls.key": secrets["kafkaExternalTlsKey"]},
        "kafka-external-users": {"users": secrets["kafkaExternalUsers"]},
        "model-storage": {"rclone.conf": rclone},
        "redis-snapshot-storage": {"rclone.conf": rclone},
        "redis-query-auth": {"password": secrets["redisQueryPassword"]},
        "elasticsearch-credentials": {"elastic-password": secrets["elasticPassword"],
                                      "kibana-password": secrets["kibanaPassword"],
                                      "log-writer-password": secrets["logWriterPassword"],
                                      "metrics-password": secrets["elasticsearchMetricsPassword"]},
        "log-agent-elasticsearch": {"username": LOG_WRITER_USER, "password": secrets["logWriterPassword"]},
    }
    out = []
    issued = issued_by_cert_manager(releases)
    for namespace, secret in catalog.site_secret_copies({r.component for r in releases}):
        if secret.name in issued:
            continue
        assert tuple(data[secret.name]) == secret.keys, secret   # the catalog names the keys charts read
        out.append((namespace, secret.name, data[secret.name]))
    return out


def issued_by_cert_manager(releases: Sequence[Release]) -> set[str]:
    """Site Secrets that cert-manager issues on this site (the gateway's tls.certManager): the stack must
    not create them too, or the two would overwrite each other."""
    for r in releases:
        tls = (r.values.get("tls") or {}) if r.component == "gateway" else {}
        if (tls.get("certManager") or {}).get("enabled") and tls.get("secretName", "gateway-tls") == "gateway-tls":
            return {"gateway-tls"}
    return set()


def build(env: Environment, site: Site, config: SiteConfig) -> dict[str, Any]:
    """Every resource of the site's stack; returns the stack outputs (none of them secret)."""
    missing = [k for k in SECRET_KEYS if k not in config.secrets]
    if missing:
        raise ValueError(f"site {site.name}: missing secret config {', '.join(missing)}")
    releases = composition.compose(env, site)
    b = Builder(env, common.provider("site", config.cluster), site.name, site.region)

    levels = {argocd.NAMESPACE: "restricted", **composition.namespaces(releases)}
    guards: list[pulumi.Resource] = []
    for ns, level in sorted(levels.items()):
        b.namespace(ns, level)
        b.baseline_policies(ns)
        guards.append(k8s.core.v1.ResourceQuota(
            f"{ns}/site-capacity", metadata=b.meta("site-capacity", ns),
            spec={"hard": guardrails.quota_hard(site, ns)}, opts=b.opts(b.namespaces[ns])))
        guards.append(k8s.core.v1.LimitRange(
            f"{ns}/container-defaults", metadata=b.meta("container-defaults", ns),
            spec={"limits": [guardrails.limit_range_item(site)]}, opts=b.opts(b.namespaces[ns])))
    argocd.network_policies(b, env)

    training_name = naming.training_stack(env.name, config.org)
    training = pulumi.StackReference(training_name)
    agreed = training.outputs.apply(lambda outputs: cloud.check_agreement(env.name, env.cloud, outputs))
    endpoint = training.require_output(cloud.OBJECT_STORE_ENDPOINT)
    rclone = pulumi.Output.all(agreed, endpoint, config.secrets["objectStoreAccessKeyId"],
                               config.secrets["objectStoreSecretAccessKey"]).apply(
        lambda v: cloud.rclone_conf(v[1], v[2], v[3]))
    secrets = [b.secret(ns, name, data, type=catalog.site_secret_type(name))
               for ns, name, data in site_secrets(site, releases, config.secrets, rclone)]

    install = argocd.install(b, env, *guards)
    app_project = argocd.project(b, env, site, releases, install)
    argocd.root_application(b, env, site, app_project, *secrets)

    return {
        "stack": str(naming.StackName(env.name, site.name)),
        "environment": env.name,
        "site": site.name,
        "region": site.region,
        "namespaces": sorted(levels),
        "releases": [{"name": r.name, "chart": r.chart, "namespace": r.namespace, "syncWave": r.sync_wave}
                     for r in releases],
        "argocd": {"version": gitops_argocd.version(), "images": gitops_argocd.images(env),
                   "namespace": argocd.NAMESPACE, "project": argocd.PROJECT,
                   "application": argocd.root_application_name(site)},
        "gitops": {"repoURL": env.gitops["repoURL"], "targetRevision": env.gitops["targetRevision"],
                   "path": site_path(env.name, site.name)},
        "trainingStack": training_name,
        "cloudEndpointsAgree": agreed,
        "modelStorageEndpoint": endpoint,
    }
