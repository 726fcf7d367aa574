"""The site-level Kubernetes objects as plain data: what the Pulumi site stack creates before Argo CD
takes over (namespaces with Pod Security labels, default-deny NetworkPolicies, quotas and limit
ranges, the Secrets the charts mount), for `edgeai up` to apply to a local cluster.

Where the stack already has a plain-data builder it is imported, not repeated:
`stacks.common.pod_security_labels`, `stacks.edge_site.guardrails`, `stacks.edge_site.site.site_secrets`
and `stacks.cloud.rclone_conf`. What the stack only had as Pulumi resources is written here as
plain data (the object labels and the baseline NetworkPolicies); the stack's Builder is meant to
call these too, so that the two can never disagree.
"""

from __future__ import annotations

import base64
import importlib
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from edgeai import catalog, composition, paths
from edgeai.composition import Release
from edgeai.fleet import Environment, Site

QUOTA_NAME = "site-capacity"            # stacks/edge_site/site.py names them the same
LIMIT_RANGE_NAME = "container-defaults"
DEFAULT_DENY = "default-deny"
ALLOW_DNS = "allow-dns"
PART_OF = {"app.kubernetes.io/part-of": "edgeai"}


def _stack_module(name: str) -> ModuleType:
    """A module of the Pulumi programs (stacks/ at the repository root, not part of the package)."""
    if str(paths.ROOT) not in sys.path:
        sys.path.insert(0, str(paths.ROOT))
    return importlib.import_module(name)


def site_labels(env: Environment, site: Site, managed_by: str) -> dict[str, str]:
    """Labels of every site-level object (the stack's Builder.labels, with managed_by=pulumi)."""
    return {catalog.LABELS["environment"]: env.name, catalog.LABELS["site"]: site.name,
            catalog.LABELS["region"]: site.region, catalog.LABELS["owner"]: env.config["owner"],
            "app.kubernetes.io/managed-by": managed_by, **PART_OF}


def _meta(name: str, labels: Mapping[str, str], namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def namespace(env: Environment, name: str, level: str, labels: Mapping[str, str]) -> dict[str, Any]:
    pod_security = _stack_module("stacks.common").pod_security_labels(level, env.kubernetes_version)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, {**labels, **pod_security})}


def baseline_network_policy_specs() -> dict[str, dict[str, Any]]:
    """Default deny (every pod, both directions) and DNS egress, by name; allow rules ship in the charts."""
    dns_peer = _stack_module("stacks.common").DNS_PEER
    return {
        DEFAULT_DENY: {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        ALLOW_DNS: {"podSelector": {}, "policyTypes": ["Egress"],
                    "egress": [{"to": [dns_peer], "ports": [{"protocol": "UDP", "port": 53},
                                                            {"protocol": "TCP", "port": 53}]}]},
    }


def network_policies(ns: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(name, labels, ns),
             "spec": spec} for name, spec in baseline_network_policy_specs().items()]


def guardrails(site: Site, ns: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    rails = _stack_module("stacks.edge_site.guardrails")
    return [
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta(QUOTA_NAME, labels, ns),
         "spec": {"hard": rails.quota_hard(site, ns)}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta(LIMIT_RANGE_NAME, labels, ns),
         "spec": {"limits": [rails.limit_range_item(site)]}},
    ]


def secrets(site: Site, releases: list[Release], values: Mapping[str, str], object_store_endpoint: str,
            labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """The Secrets the site's charts mount (docs/chart-contract.md), from the stack's own table.
    `values` holds the stack's secret config keys (redisPassword, ...); data is base64, never logged."""
    stack = _stack_module("stacks.edge_site.site")
    cloud = _stack_module("stacks.cloud")
    rclone = cloud.rclone_conf(object_store_endpoint, values["objectStoreAccessKeyId"],
                               values["objectStoreSecretAccessKey"])
    out = []
    for ns, name, data in stack.site_secrets(site, releases, values, rclone):
        encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in data.items()}
        out.append({"apiVersion": "v1", "kind": "Secret", "type": catalog.site_secret_type(name),
                    "metadata": _meta(name, labels, ns), "data": encoded})
    return out


def secret_keys() -> list[str]:
    """The secret config keys a site stack requires (edgeai.stacks.SITE_CONFIG)."""
    return list(_stack_module("stacks.edge_site.site").SECRET_KEYS)


def site_objects(env: Environment, site: Site, releases: list[Release], secret_values: Mapping[str, str],
                 object_store_endpoint: str, managed_by: str = "edgeai",
                 namespaces: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every site-level object, namespaces first. `namespaces` (name -> Pod Security level) defaults
    to the composition's; the stack adds Argo CD's own namespace to it."""
    labels = site_labels(env, site, managed_by)
    levels = dict(namespaces) if namespaces is not None else composition.namespaces(releases)
    objects = [namespace(env, ns, level, labels) for ns, level in sorted(levels.items())]
    for ns in sorted(levels):
        objects += network_policies(ns, labels) + guardrails(site, ns, labels)
    return objects + secrets(site, releases, secret_values, object_store_endpoint, labels)
