"""Argo CD on a site, as plain objects: its core install, its AppProject and the site's root Application.

The Pulumi site stack (stacks/edge_site/argocd.py) and `edgeai up` (edgeai.gitops.local) both create
exactly these, so the two cannot disagree.

- The install is Argo CD's own `manifests/core-install.yaml` from its Go module at the pinned
  ARGOCD_VERSION (vendored in upstream/; `edgeai gitops vendor-argocd` refreshes it): the application
  controller, the repo-server and Redis; no API server, no UI, no SSO (sites are reached through
  kubectl; `edgeai status` reads the Applications). The ApplicationSet controller is left out (one
  root Application per site needs none). Images are the ones built here (images/argocd, images/redis)
  from the environment's registry mirror; requests and limits sized for a one-node site.
- One root Application per site tracks deploy/<env>/<site> (edgeai gitops render) at the revision
  the environment pins: every object carries its release's sync wave, so waves still order the sync.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from edgeai import catalog, tools
from edgeai.composition import Release, compose
from edgeai.fleet import Environment, Site
from edgeai.gitops.tree import site_path

NAMESPACE = "argocd"
PROJECT = "edgeai"                      # the AppProject the root Application belongs to
IN_CLUSTER = "https://kubernetes.default.svc"
API_VERSION = "argoproj.io/v1alpha1"
FINALIZER = "resources-finalizer.argocd.argoproj.io"   # deleting the root Application deletes the site's objects
UPSTREAM = Path(__file__).with_name("upstream") / "argocd-core-install.yaml"
MODULE = "github.com/argoproj/argo-cd/v3"
# CreateNamespace=false: the site stack owns the namespaces (labels, quotas, default deny).
# ServerSideApply: no last-applied annotation (large ConfigMaps fit); PruneLast: remove old objects
# only after the new ones are healthy. RespectIgnoreDifferences: see IGNORE_DIFFERENCES.
SYNC_OPTIONS = ("CreateNamespace=false", "ServerSideApply=true", "PruneLast=true", "RespectIgnoreDifferences=true")
RETRY = {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
# Replicas a HorizontalPodAutoscaler sets (the model servers) are the autoscaler's, not drift.
IGNORE_DIFFERENCES = ({"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["kube-controller-manager"]},)
LEFT_OUT = "argocd-applicationset-controller"
# An autoscaler that cannot read a metric yet (no metrics pipeline, a pod not scraped yet) still runs
# its minimum: that must not hold every later sync wave of the site. Degraded only when it cannot scale.
HPA_HEALTH = """hs = {status = "Healthy", message = "scales its target"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "AbleToScale" and c.status == "False" then
      hs.status = "Degraded"
      hs.message = c.message
    end
  end
end
return hs
"""          # objects of the core install not installed

# Cluster-scoped kinds each component's chart renders (group, kind). The AppProject allows these
# and nothing else; tests/stacks/test_cluster_scoped.py renders the charts to prove the table.
CLUSTER_RESOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "log-agent": (("rbac.authorization.k8s.io", "ClusterRole"),
                  ("rbac.authorization.k8s.io", "ClusterRoleBinding")),
}
# Namespaced kinds the site stack owns; no release may create or change them.
NAMESPACE_RESOURCE_BLACKLIST = (("", "ResourceQuota"), ("", "LimitRange"))

# Requests and limits per container (cpu request, memory request, cpu limit, memory limit), for a
# one-node site (upstream sets none).
# Requests are small (the site's workloads need the room: a 2-core kind worker fits the local site
# with ~0.5 core to spare); limits let a sync burst.
RESOURCES = {
    "argocd-application-controller": ("100m", "256Mi", "1", "1Gi"),
    "argocd-repo-server": ("50m", "128Mi", "1", "512Mi"),
    "copyutil": ("10m", "32Mi", "100m", "64Mi"),
    "redis": ("20m", "32Mi", "200m", "128Mi"),
    "secret-init": ("10m", "32Mi", "100m", "64Mi"),
}
EPHEMERAL = ("50Mi", "256Mi")
# Pods that talk to the Kubernetes API (by app.kubernetes.io/name): the controller, and Redis's
# secret-init (it creates the Redis password Secret).
API_CLIENTS = ("argocd-application-controller", "argocd-redis")
REPO_SERVER = "argocd-repo-server"


@functools.cache
def _upstream() -> tuple[dict[str, Any], ...]:
    return tuple(d for d in yaml.safe_load_all(UPSTREAM.read_text()) if d)


def version() -> str:
    return tools.pinned_versions()["ARGOCD_VERSION"]


def images(env: Environment) -> dict[str, str]:
    """The images of images/argocd and images/redis, from gitops.argocdRegistry, else the
    environment's mirror, else the project's registry."""
    from edgeai.images.definitions import DEFAULT_REGISTRY, all_definitions

    registry = (env.gitops.get("argocdRegistry") or env.config.get("images", {}).get("mirror")
                or DEFAULT_REGISTRY)
    defs = all_definitions()
    return {"argocd": defs["argocd"].ref(registry), "redis": defs["redis"].ref(registry)}


def poll_seconds(env: Environment) -> int | None:
    return env.gitops.get("pollSeconds")


def _container(c: dict[str, Any], refs: dict[str, str]) -> None:
    if "argoproj/argocd" in c["image"]:
        c["image"] = refs["argocd"]
    elif "redis" in c["image"]:
        c["image"] = refs["redis"]
        c["command"] = ["redis-server"]          # upstream's image has an entrypoint; ours runs it by name
    cpu, mem, lcpu, lmem = RESOURCES[c["name"]]
    c["resources"] = {"requests": {"cpu": cpu, "memory": mem, "ephemeral-storage": EPHEMERAL[0]},
                      "limits": {"cpu": lcpu, "memory": lmem, "ephemeral-storage": EPHEMERAL[1]}}
    if c["name"] == REPO_SERVER:   # commits are not signed here; no gpg in the image
        c.setdefault("env", []).append({"name": "ARGOCD_GPG_ENABLED", "value": "false"})


def install_objects(env: Environment) -> list[dict[str, Any]]:
    """Argo CD's core install for the environment's sites (see the module docstring)."""
    refs = images(env)
    out = []
    for doc in copy.deepcopy(_upstream()):
        meta = doc["metadata"]
        if LEFT_OUT in meta["name"] or (doc["kind"] in ("Role", "RoleBinding", "ServiceAccount", "Service")
                                        and meta["name"] == LEFT_OUT):
            continue
        if doc["kind"] not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            meta["namespace"] = NAMESPACE
        if doc["kind"] in ("Deployment", "StatefulSet"):
            spec = doc["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                _container(c, refs)
        if doc["kind"] == "ConfigMap" and meta["name"] == "argocd-cm":
            data = doc.setdefault("data", {})
            data["application.resourceTrackingMethod"] = "annotation"   # charts keep their instance labels
            data["resource.customizations.health.autoscaling_HorizontalPodAutoscaler"] = HPA_HEALTH
            if seconds := poll_seconds(env):
                data["timeout.reconciliation"] = f"{seconds}s"      # also the repo-server's revision cache
                data["timeout.reconciliation.jitter"] = "0s"
        out.append(doc)
    return out


def git_ports(repo_url: str) -> list[int]:
    """Ports the repo-server needs to reach the Git repository (http(s), ssh:// or scp-like git@)."""
    if repo_url.startswith("git@"):
        return [22]
    parsed = urlparse(repo_url)
    return [parsed.port or {"https": 443, "ssh": 22, "http": 80}[parsed.scheme]]


def network_policy_specs(env: Environment) -> dict[str, dict[str, Any]]:
    """Argo CD's own namespace, on top of default deny + DNS: its pods talk to each other, the API
    clients reach the API server (a node address after the kubernetes Service's DNAT, unknown here:
    its ports, anywhere), the repo-server reaches Git."""
    name = "app.kubernetes.io/name"
    anywhere = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]

    def tcp(*ports: int) -> list[dict[str, Any]]:
        return [{"protocol": "TCP", "port": p} for p in ports]

    return {
        "argocd-internal": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                            "ingress": [{"from": [{"podSelector": {}}]}], "egress": [{"to": [{"podSelector": {}}]}]},
        "argocd-api-server-egress": {
            "podSelector": {"matchExpressions": [{"key": name, "operator": "In", "values": list(API_CLIENTS)}]},
            "policyTypes": ["Egress"], "egress": [{"to": anywhere, "ports": tcp(443, 6443)}]},
        "argocd-repo-server-git-egress": {
            "podSelector": {"matchLabels": {name: REPO_SERVER}}, "policyTypes": ["Egress"],
            "egress": [{"to": anywhere, "ports": tcp(*git_ports(env.gitops["repoURL"]))}]},
    }


def project_spec(env: Environment, site: Site, releases: list[Release]) -> dict[str, Any]:
    cluster_kinds = sorted({gk for r in releases for gk in CLUSTER_RESOURCES.get(r.component, ())})
    return {
        "description": f"edgeai: site {site.name} of environment {env.name}",
        "sourceRepos": [env.gitops["repoURL"]],
        "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in sorted({r.namespace for r in releases})],
        "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in cluster_kinds],
        "namespaceResourceBlacklist": [{"group": g, "kind": k} for g, k in NAMESPACE_RESOURCE_BLACKLIST],
    }


def root_application_name(site: Site) -> str:
    return f"site-{site.name}"


def root_application_spec(env: Environment, site: Site) -> dict[str, Any]:
    gitops = env.gitops
    return {
        "project": PROJECT,
        "source": {"repoURL": gitops["repoURL"], "targetRevision": gitops["targetRevision"],
                   "path": site_path(env.name, site.name), "directory": {"recurse": False}},
        # Every rendered object names its namespace, and the project confines them to the site's;
        # Argo CD still wants a default one that the project allows: the first release's.
        "destination": {"server": IN_CLUSTER, "namespace": compose(env, site)[0].namespace},
        "ignoreDifferences": [dict(d) for d in IGNORE_DIFFERENCES],
        "syncPolicy": {
            "automated": {"prune": gitops.get("prune", True), "selfHeal": gitops.get("selfHeal", True)},
            "syncOptions": list(SYNC_OPTIONS),
            "retry": copy.deepcopy(RETRY),
        },
    }


def labels(env: Environment, site: Site) -> dict[str, str]:
    return {catalog.LABELS["environment"]: env.name, catalog.LABELS["site"]: site.name}


def project_object(env: Environment, site: Site, releases: list[Release]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "AppProject",
            "metadata": {"name": PROJECT, "namespace": NAMESPACE, "labels": labels(env, site)},
            "spec": project_spec(env, site, releases)}


def root_application_object(env: Environment, site: Site) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "Application",
            "metadata": {"name": root_application_name(site), "namespace": NAMESPACE, "labels": labels(env, site),
                         "finalizers": [FINALIZER]},
            "spec": root_application_spec(env, site)}
