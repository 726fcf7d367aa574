"""Local clusters shaped like a site: `edgeai cluster up|down|status`, used by `edgeai up` and the tests.

Two providers behind one interface:
- `kind` when a container engine answers (users' machines, CI): real nodes in containers;
- `local` otherwise: Kubernetes' own control-plane binaries with kwok simulating the nodes.

A cluster is named after the environment and site whose nodes it has (edgeai-<env>-<site>) and
keeps its state in ~/.cache/edgeai/clusters/<name>/ (edgeai.cluster.state).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeai.cluster.kube import Kubectl
from edgeai.cluster.state import ClusterInfo
from edgeai.fleet import Environment, Site
from edgeai.tools import ToolMissing

PROVIDERS = ("kind", "local")


def cluster_name(env_name: str, site_name: str) -> str:
    return f"edgeai-{env_name}-{site_name}"


def container_engine() -> str | None:
    """`docker` or `podman` when its daemon answers (`info` succeeds), else None."""
    for engine in ("docker", "podman"):
        if shutil.which(engine):
            try:
                proc = subprocess.run([engine, "info"], capture_output=True, timeout=20, check=False)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if proc.returncode == 0:
                return engine
    return None


def default_provider() -> str:
    return "kind" if container_engine() else "local"


def _driver(info: ClusterInfo, mirrors: Mapping[str, str] | None = None, host_ports: Sequence[int] = ()):
    if info.provider == "local":
        from edgeai.cluster.local import LocalCluster
        return LocalCluster(info)
    from edgeai.cluster.kind import KindCluster
    return KindCluster(info, None if mirrors is None else dict(mirrors), host_ports)


def up(env: Environment, site: Site, provider: str | None = None, name: str | None = None,
       log=print, mirrors: Mapping[str, str] | None = None, host_ports: Sequence[int] = ()) -> ClusterInfo:
    """Create (or resume) the cluster of a site; returns its info (kubeconfig, server).

    `mirrors` ({registry host: endpoint URL}, kind only) are the registry mirrors the nodes' containerd
    pulls through; None reads them from $EDGEAI_REGISTRY_MIRRORS (edgeai.cluster.mirrors).
    `host_ports` (kind only): node ports mapped to the same ports on the host's 127.0.0.1 when the
    cluster is created (the site's NodePort Services, edgeai.access)."""
    name = name or cluster_name(env.name, site.name)
    info = ClusterInfo.load(name)
    if info and provider and info.provider != provider:
        raise RuntimeError(f"cluster {name} exists with provider {info.provider}; "
                           f"run `edgeai cluster down --name {name}` first")
    if info and (info.environment, info.site) != (env.name, site.name):
        raise RuntimeError(f"cluster {name} was made for {info.environment}/{info.site}; "
                           f"run `edgeai cluster down --name {name}` first")
    if info is None:
        info = ClusterInfo(name, provider or default_provider(), env.name, site.name)
    try:
        _driver(info, mirrors, host_ports).up(env, site, log=log)
    except (RuntimeError, TimeoutError) as err:
        if isinstance(err, ToolMissing):
            raise
        # What started keeps running, for its logs to be read; `down` stops it all.
        raise RuntimeError(f"{err}\n(logs in {info.dir / 'logs'}; `edgeai cluster down --name {name}` "
                           "stops what was started)") from err
    return info


def down(name: str) -> list[str]:
    """Stop and delete the cluster: its processes (or kind containers) and its state directory."""
    info = ClusterInfo.load(name)
    if info is None:
        from edgeai.cluster.processes import ProcessTable
        from edgeai.cluster.state import clusters_root
        # No cluster.json (a crash before it was written): strays may still name the directory.
        directory = clusters_root() / name
        stopped = [f"stray pid {p}" for p in ProcessTable(directory).stop_strays()]
        shutil.rmtree(directory, ignore_errors=True)
        return stopped
    stopped = _driver(info).down()
    shutil.rmtree(info.dir, ignore_errors=True)
    return stopped


@dataclass
class Status:
    info: ClusterInfo
    processes: list[tuple[str, int | None, bool]]
    healthy: bool
    nodes: list[dict[str, Any]]


def status(name: str) -> Status | None:
    info = ClusterInfo.load(name)
    if info is None:
        return None
    driver = _driver(info)
    healthy = driver.healthy()
    found = []
    if healthy:
        for node in Kubectl(info.kubeconfig).items("nodes"):
            conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
            found.append({"name": node["metadata"]["name"], "ready": conditions.get("Ready") == "True",
                          "capacity": node.get("status", {}).get("capacity", {}),
                          "taints": node.get("spec", {}).get("taints", [])})
    return Status(info, driver.processes(), healthy, found)
