"""Argo CD on a site: its core install (built here, pinned), an AppProject that confines it, and ONE
root Application that tracks the site's rendered desired state, deploy/<env>/<site>/, at the revision
the environment pins.

What the objects are is edgeai.gitops.argocd (plain data, shared with `edgeai up`); this module only
turns them into Pulumi resources. A change under environments/ reaches the site by merge alone: CI
renders deploy/ (`edgeai gitops render`), the site's Argo CD pulls it. Pulumi is needed again only for
what Argo CD cannot make (the cluster's access, Secrets, Argo CD itself).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from edgeai.composition import Release
from edgeai.fleet import Environment, Site
from edgeai.gitops import argocd as plan
from edgeai.gitops.argocd import (  # noqa: F401 - re-exported: the stack's vocabulary
    API_CLIENTS,
    API_VERSION,
    CLUSTER_RESOURCES,
    FINALIZER,
    IN_CLUSTER,
    NAMESPACE,
    NAMESPACE_RESOURCE_BLACKLIST,
    PROJECT,
    REPO_SERVER,
    git_ports,
    project_spec,
    root_application_name,
    root_application_spec,
)
from stacks.common import Builder

INSTALL = "argocd"      # the ConfigGroup of the core install


def network_policies(b: Builder, env: Environment) -> list[k8s.networking.v1.NetworkPolicy]:
    return [b.network_policy(NAMESPACE, name, spec) for name, spec in plan.network_policy_specs(env).items()]


def install(b: Builder, env: Environment, *depends_on: pulumi.Resource) -> k8s.yaml.v2.ConfigGroup:
    """Argo CD's core install at the pinned version (images from the environment's registry)."""
    return k8s.yaml.v2.ConfigGroup(INSTALL, objs=plan.install_objects(env),
                                   opts=b.opts(b.namespaces[NAMESPACE], *depends_on))


def project(b: Builder, env: Environment, site: Site, releases: Sequence[Release],
            argocd: pulumi.Resource) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        f"{NAMESPACE}/{PROJECT}", api_version=API_VERSION, kind="AppProject",
        metadata=b.meta(PROJECT, NAMESPACE), spec=project_spec(env, site, list(releases)), opts=b.opts(argocd))


def root_application(b: Builder, env: Environment, site: Site, app_project: pulumi.Resource,
                     *depends_on: pulumi.Resource) -> k8s.apiextensions.CustomResource:
    """The site's one Application: deploy/<env>/<site>/ at gitops.targetRevision. Sync waves are the
    objects' own annotations (set by `edgeai gitops render`)."""
    name = root_application_name(site)
    return k8s.apiextensions.CustomResource(
        f"{NAMESPACE}/{name}", api_version=API_VERSION, kind="Application",
        metadata=b.meta(name, NAMESPACE, finalizers=[FINALIZER]), spec=root_application_spec(env, site),
        opts=b.opts(app_project, *depends_on))
