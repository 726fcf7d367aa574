"""The last step of `edgeai up` on kind: the site's Git server, Argo CD and the site's root Application,
so that from then on a commit reaches the site through Argo CD alone (docs/gitops.md).

What is applied is what the Pulumi site stack creates (edgeai.gitops.argocd): Argo CD's namespace with
its Pod Security labels, default deny, quota and limit range (edgeai.site_objects), Argo CD's own
NetworkPolicies, its core install, the AppProject and the root Application.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

from edgeai import site_objects
from edgeai.cluster.kube import Kubectl, KubectlError, wait_for
from edgeai.composition import compose
from edgeai.fleet import Environment, Site
from edgeai.gitops import argocd, gitserver

SYNC_TIMEOUT = 600
# The images edgeai up pins by digest (edgeai.images.pin): all but the model artifact's fetcher, which Git owns.
IMAGE_PATHS = (".spec.template.spec.containers[].image",
               ".spec.template.spec.initContainers[]? | select(.name != \"fetch-model\") | .image")
HELM_MANAGER = "helm"
HELM_KINDS = ("deployments,statefulsets,daemonsets,services,configmaps,serviceaccounts,networkpolicies,"
              "poddisruptionbudgets,horizontalpodautoscalers,roles,rolebindings,cronjobs,persistentvolumeclaims")


def _argocd_namespace(env: Environment, site: Site) -> list[dict[str, Any]]:
    labels = site_objects.site_labels(env, site, "edgeai")
    objects = [site_objects.namespace(env, argocd.NAMESPACE, "restricted", labels)]
    objects += site_objects.network_policies(argocd.NAMESPACE, labels)
    objects += site_objects.guardrails(site, argocd.NAMESPACE, labels)
    objects += [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": name, "namespace": argocd.NAMESPACE, "labels": labels}, "spec": spec}
                for name, spec in argocd.network_policy_specs(env).items()]
    return objects


def _pin(objects: list[dict[str, Any]], host: str | None) -> None:
    """Images of the site registry by the digest it serves (as `edgeai up` runs the releases'): a rebuilt
    image under the same tag rolls the pods instead of leaving the nodes on their cached build."""
    from edgeai.images import registry

    if not host:
        return
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            spec = o["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                if c["image"].startswith(f"{host}/") and "@" not in c["image"]:
                    digest = registry.served_digest(c["image"])
                    c["image"] = f"{c['image']}@{digest}" if digest else c["image"]


def root_application(kubectl: Kubectl, site: Site) -> dict[str, Any] | None:
    try:
        return kubectl.get("applications.argoproj.io", "-n", argocd.NAMESPACE, argocd.root_application_name(site))
    except KubectlError:
        return None


def synced_revision(kubectl: Kubectl, site: Site) -> tuple[str, str, str] | None:
    """(revision, sync status, health status) of the root Application, None before its first sync."""
    app = root_application(kubectl, site)
    if not app:
        return None
    status = app.get("status", {})
    return (status.get("sync", {}).get("revision", ""), status.get("sync", {}).get("status", ""),
            status.get("health", {}).get("status", ""))


@contextlib.contextmanager
def automated_sync_paused(info, site: Site, log=print) -> Iterator[None]:
    """While `edgeai up` runs helm on a site Argo CD already syncs: until the new commit is served (its
    last step), Argo CD's self-heal would revert each upgraded object to the commit it serves, and the
    releases would never become ready. Resumed by the hand-over's root Application, else on the way out."""
    if info.provider != "kind":
        yield
        return
    kubectl = Kubectl(info.kubeconfig)
    app = root_application(kubectl, site)
    automated = (app or {}).get("spec", {}).get("syncPolicy", {}).get("automated")
    if automated is None:
        yield
        return
    name = argocd.root_application_name(site)

    def set_automated(value) -> None:
        kubectl.run("patch", "applications.argoproj.io", "-n", argocd.NAMESPACE, name, "--type", "merge",
                    "-p", json.dumps({"spec": {"syncPolicy": {"automated": value}}}))

    set_automated(None)
    log(f"gitops: {name}'s automated sync paused while helm upgrades the site")
    try:
        yield
    finally:
        now = root_application(kubectl, site)
        if now and now.get("spec", {}).get("syncPolicy", {}).get("automated") is None:
            set_automated(automated)   # no hand-over re-applied it (a release failed, --no-gitops, --release)
            log(f"gitops: {name}'s automated sync resumed at the commit it serves")


def install(env: Environment, site: Site, info, log=print, wait: bool = True) -> str | None:
    """Git server, Argo CD and the root Application on the kind cluster `info`; returns the revision
    Argo CD synced (None when not waited for). Idempotent."""
    from edgeai.images import site as site_images

    if info.provider != "kind":
        log("gitops: Argo CD runs only where containers run (kind): not installed on this cluster")
        return None
    started = time.monotonic()
    install_objects = argocd.install_objects(env)
    for ref in site_images.provide(env, install_objects, log):
        log(f"warning: no build definition for {ref}: Argo CD cannot start")
    _pin(install_objects, site_images.pinned_registry(env))
    served = gitserver.publish(log=log)
    gitserver.up(log=log)
    kubectl = Kubectl(info.kubeconfig)
    namespace = _argocd_namespace(env, site)
    kubectl.apply([o for o in namespace if o["kind"] == "Namespace"])
    kubectl.apply([o for o in namespace if o["kind"] != "Namespace"])
    crds = [o for o in install_objects if o["kind"] == "CustomResourceDefinition"]
    kubectl.apply(crds)
    for crd in crds:
        name = crd["metadata"]["name"]
        wait_for(f"CRD {name} established", lambda name=name: any(
            c["type"] == "Established" and c["status"] == "True"
            for c in kubectl.get("crd", name).get("status", {}).get("conditions") or []), 60, interval=0.5)
    kubectl.apply([o for o in install_objects if o["kind"] != "CustomResourceDefinition"])
    root = argocd.root_application_object(env, site)
    if site_images.pinned_registry(env):
        # `edgeai up` runs the site registry's images by the digest it serves (a local build has no
        # tag of its own); Git names tags. The images are edgeai up's, everything else is Git's.
        root["spec"]["ignoreDifferences"] += [
            {"group": group, "kind": kind, "jqPathExpressions": list(IMAGE_PATHS)}
            for group, kind in (("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"))]
    kubectl.apply([argocd.project_object(env, site, compose(env, site)), root])
    log(f"gitops: Argo CD {argocd.version()} installed; {argocd.root_application_name(site)} tracks "
        f"{env.gitops['repoURL']} {env.gitops['targetRevision']} (serving {served[:12]})")
    if not wait:
        return None

    def synced():
        found = synced_revision(kubectl, site)
        return found if found and found[0] == served and found[1] == "Synced" else None

    revision, sync, health = wait_for(f"Argo CD to sync {served[:12]}", synced, SYNC_TIMEOUT, interval=2)
    released = hand_over_fields(kubectl, sorted({r.namespace for r in compose(env, site)}))
    log(f"gitops: {argocd.root_application_name(site)} {sync} at {revision[:12]}, {health} "
        f"({time.monotonic() - started:.0f}s); helm's ownership of {released} object(s) released to Argo CD")
    return revision


def hand_over_fields(kubectl: Kubectl, namespaces: list[str]) -> int:
    """Drop helm's entries from the managed fields of the objects helm installed: Argo CD's first sync
    applied (server-side) every field it wants, so it owns them, but a field helm co-owns outlives its
    removal from Git (found when a promotion turned the model's fetch-model init container from `cp` out
    of an oci:// image to rclone: the old `command` stayed). Returns how many objects changed."""
    changed = 0
    for ns in namespaces:
        for obj in kubectl.items(HELM_KINDS, "-n", ns, "-l", "app.kubernetes.io/managed-by=Helm",
                                 "--show-managed-fields"):
            fields = obj["metadata"].get("managedFields") or []
            kept = [f for f in fields if f.get("manager") != HELM_MANAGER]
            if len(kept) == len(fields):
                continue
            # [{}] is the API's way to clear the list; an empty list would leave it as it is.
            patch = [{"op": "replace", "path": "/metadata/managedFields", "value": kept or [{}]}]
            kubectl.run("patch", f"{obj['kind'].lower()}/{obj['metadata']['name']}", "-n", ns, "--type=json",
                        "-p", json.dumps(patch))
            changed += 1
    return changed
