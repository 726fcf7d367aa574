"""What both stacks build the same way: the provider, labels, namespaces and baseline NetworkPolicies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from edgeai import catalog
from edgeai import stacks as naming
from edgeai.fleet import Environment
from edgeai.podsecurity import LEVELS as POD_SECURITY_LEVELS
from policies.rules.namespace_pod_security import LABEL as POD_SECURITY

MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "edgeai"}
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"   # set by the API server on every namespace
DNS_PEER = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}


@dataclass(frozen=True)
class ClusterConfig:
    """How to reach the stack's cluster: a kubeconfig (a secret) and/or a context, else the ambient one."""
    kubeconfig: pulumi.Input[str] | None = None
    context: str | None = None

    @staticmethod
    def from_pulumi(config: pulumi.Config) -> ClusterConfig:
        return ClusterConfig(config.get_secret("kubeconfig"), config.get("kubeContext"))


def config() -> pulumi.Config:
    return pulumi.Config(naming.CONFIG_NAMESPACE)


def require_secrets(cfg: pulumi.Config, keys: Sequence[naming.ConfigKey]) -> dict[str, pulumi.Output[str]]:
    """Every required secret key, read with require_secret: a secret Output (encrypted in the state,
    masked in diffs) even if someone set the key without --secret; a missing key stops the program
    with Pulumi's own message naming it."""
    return {k.key: cfg.require_secret(k.key) for k in keys if k.secret and k.required}


def pod_security_labels(level: str, kubernetes_version: str) -> dict[str, str]:
    """Pod Security admission labels: enforce the given level; audit and warn at restricted."""
    assert level in POD_SECURITY_LEVELS, level
    version = "v" + ".".join(kubernetes_version.split(".")[:2])
    out = {}
    for mode, lvl in (("enforce", level), ("audit", "restricted"), ("warn", "restricted")):
        out[f"{POD_SECURITY}/{mode}"] = lvl
        out[f"{POD_SECURITY}/{mode}-version"] = version
    return out


@dataclass
class Builder:
    """Creates objects on one cluster with the labels of the environment (and site)."""
    env: Environment
    provider: k8s.Provider
    site: str
    region: str
    namespaces: dict[str, k8s.core.v1.Namespace] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return {catalog.LABELS["environment"]: self.env.name, catalog.LABELS["site"]: self.site,
                catalog.LABELS["region"]: self.region, catalog.LABELS["owner"]: self.env.config["owner"],
                **MANAGED_BY}

    def opts(self, *depends_on: pulumi.Resource | None, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, depends_on=[d for d in depends_on if d],
                                      **kwargs)

    def meta(self, name: str, namespace: str | None = None, labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None,
             finalizers: Sequence[str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace,
                                          labels={**self.labels, **(labels or {})},
                                          annotations=dict(annotations) if annotations else None,
                                          finalizers=list(finalizers) if finalizers else None)

    def namespace(self, name: str, pod_security: str) -> k8s.core.v1.Namespace:
        labels = pod_security_labels(pod_security, self.env.kubernetes_version)
        ns = k8s.core.v1.Namespace(name, metadata=self.meta(name, labels=labels), opts=self.opts())
        self.namespaces[name] = ns
        return ns

    def network_policy(self, namespace: str, name: str, spec: dict[str, Any]) -> k8s.networking.v1.NetworkPolicy:
        return k8s.networking.v1.NetworkPolicy(
            f"{namespace}/{name}", metadata=self.meta(name, namespace), spec=spec,
            opts=self.opts(self.namespaces.get(namespace)))

    def baseline_policies(self, namespace: str) -> list[k8s.networking.v1.NetworkPolicy]:
        """Default deny (every pod, both directions) and DNS egress; allow rules come on top."""
        return [
            self.network_policy(namespace, "default-deny",
                                {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            self.network_policy(namespace, "allow-dns", {
                "podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{"to": [DNS_PEER], "ports": [{"protocol": "UDP", "port": 53},
                                                         {"protocol": "TCP", "port": 53}]}]}),
        ]

    def secret(self, namespace: str, name: str, string_data: Mapping[str, pulumi.Input[str]],
               *depends_on: pulumi.Resource, type: str = "Opaque") -> k8s.core.v1.Secret:  # noqa: A002
        """A Secret whose content is a Pulumi secret (encrypted in state, hidden in diffs)."""
        return k8s.core.v1.Secret(
            f"{namespace}/{name}", metadata=self.meta(name, namespace), type=type,
            string_data={k: pulumi.Output.secret(v) for k, v in string_data.items()},
            opts=self.opts(self.namespaces.get(namespace), *depends_on,
                           additional_secret_outputs=["data", "stringData"]))


def provider(name: str, cluster: ClusterConfig) -> k8s.Provider:
    return k8s.Provider(name, kubeconfig=cluster.kubeconfig, context=cluster.context)


def peers(namespaces: Sequence[str] = (), pods: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """NetworkPolicy peers: pods (by labels) in this namespace, or any pod of the named namespaces."""
    out: list[dict[str, Any]] = [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: ns}}}
                                 for ns in namespaces]
    if pods is not None:
        out.append({"podSelector": {"matchLabels": dict(pods)}})
    return out


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
