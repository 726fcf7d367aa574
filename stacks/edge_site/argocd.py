"""Argo CD on a site: the pinned upstream chart, an AppProject that confines it, one Application per release.

The Applications carry exactly what `edgeai.composition.compose(env, site)` returns (chart path,
release name, namespace, values inline, sync wave): the same releases `edgeai render` prints and
`edgeai validate` renders with helm.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s

from edgeai import catalog, composition
from edgeai.composition import Release
from edgeai.fleet import Environment, Site
from stacks.common import ANYWHERE, Builder, tcp

NAMESPACE = "argocd"
RELEASE = "argocd"                      # helm release; the chart names its objects argocd-*
PROJECT = "edgeai"                      # the AppProject every Application belongs to
IN_CLUSTER = "https://kubernetes.default.svc"
API_VERSION = "argoproj.io/v1alpha1"
FINALIZER = "resources-finalizer.argocd.argoproj.io"   # deleting an Application deletes its objects
# CreateNamespace=false: Pulumi owns the namespaces (labels, quotas, default deny).
# ServerSideApply: no last-applied annotation, so large ConfigMaps (dashboards) fit.
# PruneLast: remove old objects only after the new ones are healthy.
SYNC_OPTIONS = ("CreateNamespace=false", "ServerSideApply=true", "PruneLast=true")
RETRY = {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}

# Cluster-scoped kinds each component's chart renders (group, kind). The AppProject allows these
# and nothing else; tests/stacks/test_cluster_scoped.py renders the charts with helm to prove the
# table matches what they render.
CLUSTER_RESOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "log-agent": (("rbac.authorization.k8s.io", "ClusterRole"),
                  ("rbac.authorization.k8s.io", "ClusterRoleBinding")),
}
# Namespaced kinds the site stack owns; no chart may create or change them.
NAMESPACE_RESOURCE_BLACKLIST = (("", "ResourceQuota"), ("", "LimitRange"))

# Requests and limits of Argo CD's own pods, sized for a one-node site (the upstream chart sets none).
RESOURCES = {
    "controller": ("250m", "512Mi", "1", "1Gi"),
    "repoServer": ("100m", "256Mi", "1", "512Mi"),
    "server": ("50m", "128Mi", "500m", "256Mi"),
    "redis": ("50m", "64Mi", "200m", "128Mi"),
    "applicationSet": ("50m", "64Mi", "250m", "128Mi"),
    "redisSecretInit": ("50m", "64Mi", "200m", "128Mi"),
}
# Pods of the upstream chart by their app.kubernetes.io/name label.
API_CLIENTS = ("argocd-application-controller", "argocd-server", "argocd-applicationset-controller",
               "argocd-redis-secret-init")
REPO_SERVER = "argocd-repo-server"


def chart_source(env: Environment) -> dict[str, str]:
    """The pinned upstream chart; its repository overridable for air-gapped mirrors."""
    pinned = composition.settings()["argocd"]
    repository = env.gitops.get("argocdChartRepository") or pinned["repository"]
    return {"chart": pinned["chart"], "repository": repository, "version": pinned["version"]}


def chart_values(env: Environment) -> dict[str, Any]:
    values: dict[str, Any] = {
        "crds": {"install": True, "keep": True},
        "dex": {"enabled": False},            # no SSO at the edge: admin via port-forward only
        "notifications": {"enabled": False},
        # Annotation tracking: the charts' own app.kubernetes.io/instance labels stay theirs.
        "configs": {"cm": {"application.resourceTrackingMethod": "annotation"}},
    }
    for component, (rcpu, rmem, lcpu, lmem) in RESOURCES.items():
        values[component] = {"resources": {"requests": {"cpu": rcpu, "memory": rmem},
                                           "limits": {"cpu": lcpu, "memory": lmem}}}
    if mirror := env.config.get("images", {}).get("mirror"):
        values["global"] = {"image": {"repository": f"{mirror}/argoproj/argocd"}}
        values["redis"]["image"] = {"repository": f"{mirror}/docker/library/redis"}
    return values


def git_ports(repo_url: str) -> list[int]:
    """Ports the repo-server needs to reach the Git repository (https, ssh:// or scp-like git@)."""
    if repo_url.startswith("git@"):
        return [22]
    parsed = urlparse(repo_url)
    return [parsed.port or {"https": 443, "ssh": 22, "http": 80}[parsed.scheme]]


def network_policies(b: Builder, env: Environment) -> list[k8s.networking.v1.NetworkPolicy]:
    """Argo CD's own namespace, on top of default deny + DNS: its pods talk to each other, the
    API clients reach the API server, the repo-server reaches Git."""
    name = "app.kubernetes.io/name"
    return [
        b.network_policy(NAMESPACE, "argocd-internal", {
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}], "egress": [{"to": [{"podSelector": {}}]}]}),
        # The API server's address is a node address (after the kubernetes Service's DNAT),
        # unknown here: its ports, anywhere.
        b.network_policy(NAMESPACE, "argocd-api-server-egress", {
            "podSelector": {"matchExpressions": [{"key": name, "operator": "In", "values": list(API_CLIENTS)}]},
            "policyTypes": ["Egress"], "egress": [{"to": ANYWHERE, "ports": tcp(443, 6443)}]}),
        b.network_policy(NAMESPACE, "argocd-repo-server-git-egress", {
            "podSelector": {"matchLabels": {name: REPO_SERVER}}, "policyTypes": ["Egress"],
            "egress": [{"to": ANYWHERE, "ports": tcp(*git_ports(env.gitops["repoURL"]))}]}),
    ]


def install(b: Builder, env: Environment, *depends_on: pulumi.Resource) -> k8s.helm.v3.Release:
    source = chart_source(env)
    return k8s.helm.v3.Release(
        RELEASE, name=RELEASE, namespace=NAMESPACE, chart=source["chart"], version=source["version"],
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=source["repository"]),
        values=chart_values(env), create_namespace=False, atomic=True, cleanup_on_fail=True,
        max_history=5, timeout=900, opts=b.opts(b.namespaces[NAMESPACE], *depends_on))


def project_spec(env: Environment, site: Site, releases: Sequence[Release]) -> dict[str, Any]:
    cluster_kinds = sorted({gk for r in releases for gk in CLUSTER_RESOURCES.get(r.component, ())})
    return {
        "description": f"edgeai releases of site {site.name} (environment {env.name})",
        "sourceRepos": [env.gitops["repoURL"]],
        "destinations": [{"server": IN_CLUSTER, "namespace": ns}
                         for ns in sorted({r.namespace for r in releases})],
        "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in cluster_kinds],
        "namespaceResourceBlacklist": [{"group": g, "kind": k} for g, k in NAMESPACE_RESOURCE_BLACKLIST],
    }


def project(b: Builder, env: Environment, site: Site, releases: Sequence[Release],
            argocd: k8s.helm.v3.Release) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        f"{NAMESPACE}/{PROJECT}", api_version=API_VERSION, kind="AppProject",
        metadata=b.meta(PROJECT, NAMESPACE), spec=project_spec(env, site, releases), opts=b.opts(argocd))


def helm_values(values: Any) -> Any:
    """Release values as Pulumi can carry them: without null map entries (the engine and the
    Kubernetes provider drop nulls on their way to the API server). For Helm a null only deletes
    a chart default; tests/stacks/test_one_composition.py proves every release merges over its
    chart's defaults to the same values with or without its nulls."""
    if isinstance(values, dict):
        return {k: helm_values(v) for k, v in values.items() if v is not None}
    if isinstance(values, list):
        return [helm_values(v) for v in values]
    return values


def application_spec(env: Environment, release: Release) -> dict[str, Any]:
    gitops = env.gitops
    return {
        "project": PROJECT,
        "source": {
            "repoURL": gitops["repoURL"],
            "targetRevision": gitops["targetRevision"],
            "path": release.chart,
            "helm": {"releaseName": release.name, "valuesObject": helm_values(release.values)},
        },
        "destination": {"server": IN_CLUSTER, "namespace": release.namespace},
        "syncPolicy": {
            "automated": {"prune": gitops.get("prune", True), "selfHeal": gitops.get("selfHeal", True)},
            "syncOptions": list(SYNC_OPTIONS),
            "retry": copy.deepcopy(RETRY),
        },
    }


def applications(b: Builder, env: Environment, releases: Sequence[Release], app_project: pulumi.Resource,
                 *depends_on: pulumi.Resource) -> list[k8s.apiextensions.CustomResource]:
    """One Application per release. Argo CD orders them by the sync-wave annotation; Pulumi also
    creates them wave by wave (each depends on every Application of the earlier waves)."""
    out: list[k8s.apiextensions.CustomResource] = []
    earlier: list[pulumi.Resource] = []
    for wave in sorted({r.sync_wave for r in releases}):
        this_wave = []
        for release in (r for r in releases if r.sync_wave == wave):
            metadata = b.meta(release.name, NAMESPACE,
                              labels={"app.kubernetes.io/component": release.component},
                              annotations={catalog.SYNC_WAVE_ANNOTATION: str(release.sync_wave)},
                              finalizers=[FINALIZER])
            this_wave.append(k8s.apiextensions.CustomResource(
                f"{NAMESPACE}/{release.name}", api_version=API_VERSION, kind="Application",
                metadata=metadata, spec=application_spec(env, release),
                opts=b.opts(app_project, *depends_on, *earlier)))
        earlier += this_wave
        out += this_wave
    return out
