"""`edgeai up`: deploy a site to a local cluster exactly as the site's Argo CD would.

1. The site-level objects the Pulumi site stack creates (edgeai.site_objects): namespaces with
   their Pod Security labels, default-deny NetworkPolicies, quotas and limit ranges, and the
   Secrets the charts mount, with random values kept only in the cluster's state directory.
2. Every release of edgeai.composition.compose, wave by wave (a wave only starts once the
   previous one is healthy, as Argo CD's sync waves), with the real helm:
   `helm upgrade --install --atomic --wait`, the release's values on stdin.
3. A release whose rendered manifest, hooks and values equal the deployed revision's is left
   alone (Argo CD would call it Synced), so a second run changes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgeai import gateway_tls, helm, kafka_external, paths, site_objects, tools
from edgeai.cluster.kube import Kubectl
from edgeai.cluster.state import ClusterInfo, private_values
from edgeai.composition import Release, compose
from edgeai.fleet import Environment, Site

DEFAULT_TIMEOUT = "5m"
HISTORY_MAX = 10
# Where model artifacts and snapshots would go on a developer machine (e.g. a MinIO on its default
# port); a local cluster has no cloud object store, and no container reaches it under kwok anyway.
LOCAL_OBJECT_STORE = "http://127.0.0.1:9000"
INSTANCE = "app.kubernetes.io/instance"


class DeployError(RuntimeError):
    """`edgeai up` cannot do what it was asked (e.g. a release the site does not have)."""


@dataclass
class Outcome:
    release: Release
    action: str             # installed | upgraded | unchanged | failed
    revision: int | None
    error: str | None = None


class Helm:
    """helm against one cluster."""

    def __init__(self, kubeconfig: Path, pin_registry: str | None = None):
        self.base = [tools.find("helm"), "--kubeconfig", str(kubeconfig)]
        # Images of this registry are pinned by digest (edgeai.images.pin, a helm post-renderer).
        self.post_render = [] if not pin_registry else [
            "--post-renderer", sys.executable, *(f"--post-renderer-args={a}" for a in
                                                 ("-m", "edgeai.images.pin", pin_registry))]

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise helm.HelmError(proc.stderr.strip() or proc.stdout.strip())
        return proc

    def deployed(self, release: Release) -> dict[str, Any] | None:
        """The release's current revision (manifest, values, status), None when not installed."""
        proc = self.run("status", release.name, "--namespace", release.namespace, "-o", "json", check=False)
        if proc.returncode != 0:
            if "not found" in proc.stderr:
                return None
            raise helm.HelmError(proc.stderr.strip())
        found = json.loads(proc.stdout)
        found["hook_objects"] = _objects(self.run("get", "hooks", release.name, "--namespace",
                                                  release.namespace).stdout)
        return found

    def _upgrade_args(self, release: Release) -> list[str]:
        return ["upgrade", "--install", release.name, str(paths.ROOT / release.chart),
                "--namespace", release.namespace, "--values", "-", *self.post_render]

    def dry_run(self, release: Release, values: str) -> dict[str, Any]:
        """What an upgrade would deploy, rendered by the API server's dry run (cluster capabilities)."""
        found = json.loads(self.run(*self._upgrade_args(release), "--dry-run=server", "-o", "json",
                                    stdin=values).stdout)
        found["hook_objects"] = _objects("\n---\n".join(h["manifest"] for h in found.get("hooks") or []))
        return found

    def upgrade(self, release: Release, values: str, timeout: str, wait: bool = True) -> None:
        # --atomic: a release that does not become healthy within the timeout is rolled back
        # (an install is removed), as Argo CD keeps the last healthy revision running. Without
        # `wait` (a LoadBalancer no controller serves would never count as ready) the caller waits.
        self.run(*self._upgrade_args(release), *(["--atomic", "--wait"] if wait else []), "--timeout", timeout,
                 "--history-max", str(HISTORY_MAX), stdin=values)


def _objects(manifest: str) -> list[str]:
    """The objects of a multi-document manifest, comparable (comments and document order aside)."""
    return sorted(json.dumps(d, sort_keys=True) for d in yaml.safe_load_all(manifest) if d)


def _same(deployed: dict[str, Any], planned: dict[str, Any]) -> bool:
    """Argo CD's Synced, for helm: the same objects (hooks included) from the same values, and the
    deployed revision is healthy (a failed or pending one is deployed again)."""
    return (deployed["info"]["status"] == "deployed"
            and _objects(deployed["manifest"]) == _objects(planned["manifest"])
            and deployed["hook_objects"] == planned["hook_objects"]
            and (deployed.get("config") or {}) == (planned.get("config") or {}))


def recover_interrupted(h: Helm, release: Release, deployed: dict[str, Any] | None) -> dict[str, Any] | None:
    """A release left pending by an interrupted run (helm refuses any operation on it): a pending
    install is removed, a pending upgrade or rollback is rolled back to the last good revision."""
    if deployed is None or not deployed["info"]["status"].startswith("pending-"):
        return deployed
    if deployed["info"]["status"] == "pending-install":
        h.run("uninstall", release.name, "--namespace", release.namespace, "--wait")
    else:
        h.run("rollback", release.name, "--namespace", release.namespace, "--wait")
    return h.deployed(release)


def deploy_release(h: Helm, release: Release, timeout: str) -> Outcome:
    values = yaml.safe_dump(release.values)
    try:
        deployed = recover_interrupted(h, release, h.deployed(release))
        if deployed is not None and _same(deployed, h.dry_run(release, values)):
            return Outcome(release, "unchanged", deployed["version"])
        h.upgrade(release, values, timeout)
        after = h.deployed(release)
        return Outcome(release, "installed" if deployed is None else "upgraded", after and after["version"])
    except helm.HelmError as err:
        try:
            after = h.deployed(release)
        except helm.HelmError:
            after = None
        return Outcome(release, "failed", after and after["version"], str(err))


def site_secrets_file(info: ClusterInfo) -> Path:
    return info.dir / "site-secrets.json"


def site_secret_values(info: ClusterInfo, releases: list[Release] | None = None) -> dict[str, str]:
    """The stack's secret config keys, random per cluster, in <state>/site-secrets.json (0600); the
    gateway's certificate from the cluster's own CA (edgeai.gateway_tls), not a random string; Kafka's
    external listener's certificate (same CA) and its users' passwords (edgeai.kafka_external)."""
    made = (*gateway_tls.CONFIG_KEYS, *kafka_external.CONFIG_KEYS)
    keys = [k for k in site_objects.secret_keys() if k not in made]
    kafka = next((r.values for r in releases or [] if r.component == "kafka"), None)
    return {**private_values(site_secrets_file(info), keys), **gateway_tls.ensure(info.dir),
            **kafka_external.ensure(info.dir, kafka)}


def apply_site_objects(kubectl: Kubectl, env: Environment, site: Site, releases: list[Release],
                       info: ClusterInfo) -> None:
    endpoint = env.cloud.get("objectStoreEndpoint") or LOCAL_OBJECT_STORE
    values = site_secret_values(info, releases)
    if env.cloud.get("onSiteCluster"):   # edgeai.localcloud's Kafka: its certificate is from the cluster's CA
        values["kafkaMirrorCA"] = gateway_tls.ca_file(info.dir).read_text()
    objects = site_objects.site_objects(env, site, releases, values, endpoint)
    # Namespaces first, in their own apply: the namespaced objects need them to exist.
    kubectl.apply([o for o in objects if o["kind"] == "Namespace"])
    kubectl.apply([o for o in objects if o["kind"] != "Namespace"])


def deploy(env: Environment, site: Site, info: ClusterInfo, timeout: str = DEFAULT_TIMEOUT,
           log=print, workers: int = 4, only: set[str] | None = None,
           pin_registry: str | None = None) -> list[Outcome]:
    """Site objects, then every release wave by wave (or only the named ones); stops after a wave
    with a failed release, as Argo CD does not start a wave before the previous one is healthy.
    `pin_registry`: the images of that registry run pinned by the digest it serves."""
    releases = compose(env, site)
    if only:
        unknown = only - {r.name for r in releases}
        if unknown:
            raise DeployError(f"site {site.name} has no release {', '.join(sorted(unknown))}; "
                              f"releases: {', '.join(r.name for r in releases)}")
    kubectl = Kubectl(info.kubeconfig)
    apply_site_objects(kubectl, env, site, releases, info)
    h = Helm(info.kubeconfig, pin_registry)
    if only:
        releases = [r for r in releases if r.name in only]
    for chart in sorted({r.chart for r in releases}):
        helm.build_dependencies(paths.ROOT / chart)
    outcomes: list[Outcome] = []
    for wave in sorted({r.sync_wave for r in releases}):
        batch = [r for r in releases if r.sync_wave == wave]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda r: deploy_release(h, r, timeout), batch))
        outcomes += results
        log(f"wave {wave}: " + ", ".join(f"{o.release.name} {o.action}" for o in results)
            + f" ({time.monotonic() - started:.1f}s)")
        if any(o.action == "failed" for o in results):
            break
    return outcomes


@dataclass
class Row:
    component: str
    release: str
    namespace: str
    revision: str
    action: str
    ready: str
    endpoints: str


def status_rows(kubectl: Kubectl, outcomes: list[Outcome]) -> list[Row]:
    """Ready replicas and Service endpoints of each release, from the cluster."""
    workloads = kubectl.items("deployments,statefulsets,daemonsets", "--all-namespaces", "-l", INSTANCE)
    services = kubectl.items("services", "--all-namespaces", "-l", INSTANCE)
    rows = []
    for o in outcomes:
        r = o.release

        def mine(obj: dict[str, Any], r: Release = r) -> bool:
            meta = obj["metadata"]
            return meta.get("namespace") == r.namespace and meta.get("labels", {}).get(INSTANCE) == r.name

        want = ready = 0
        for w in filter(mine, workloads):
            status = w.get("status", {})
            if w["kind"] == "DaemonSet":
                want += status.get("desiredNumberScheduled", 0)
                ready += status.get("numberReady", 0)
            else:
                want += w.get("spec", {}).get("replicas", 1)
                ready += status.get("readyReplicas", 0)
        endpoints = [f"{s['metadata']['name']}.{r.namespace}.svc:{p['port']}"
                     for s in filter(mine, services) if s["spec"].get("clusterIP") != "None"
                     for p in s["spec"].get("ports", [])]
        rows.append(Row(r.component, r.name, r.namespace, str(o.revision or "-"), o.action,
                        f"{ready}/{want}", ", ".join(endpoints) or "-"))
    return rows


def table(rows: list[Row]) -> str:
    head = Row("COMPONENT", "RELEASE", "NAMESPACE", "REV", "ACTION", "READY", "ENDPOINTS")
    cols = [(f, max(len(getattr(x, f)) for x in [head, *rows])) for f in head.__dataclass_fields__]
    return "\n".join("  ".join(getattr(x, f).ljust(w) for f, w in cols).rstrip() for x in [head, *rows]) + "\n"
