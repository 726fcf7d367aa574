"""Registry mirrors for the nodes' containerd: pulls of `docker.io/...`, `ghcr.io/...` go to a mirror first.

An air-gapped edge site pulls every image through its site-local registry; a kind cluster does the
same. A mirror is a mapping {registry host: endpoint URL}, e.g.
{"docker.io": "http://edgeai-registry:5000", "registry.edgeai.local:5000": "http://edgeai-registry:5000"}.
containerd (1.6 and 2.x) reads one `hosts.toml` per registry from `config_path`
(https://github.com/containerd/containerd/blob/main/docs/hosts.md); the endpoint's scheme says
whether it speaks plain HTTP. The registry itself stays the fallback, so an image missing from the
mirror is still pulled from upstream where upstream is reachable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

MIRRORS_ENV = "EDGEAI_REGISTRY_MIRRORS"   # "docker.io=http://edgeai-registry:5000,ghcr.io=http://..."
CERTS_DIR = "/etc/containerd/certs.d"     # where the nodes' containerd looks for hosts.toml
# containerd 1.6's CRI plugin reads the per-registry directories from config_path.
CONTAINERD_PATCH = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CERTS_DIR}"\n'
# The upstream endpoint of a registry whose host name is not where it serves (Docker Hub).
UPSTREAM = {"docker.io": "https://registry-1.docker.io"}


def parse(text: str) -> dict[str, str]:
    """`host=url,host=url` (commas or whitespace between pairs) into {host: url}."""
    mirrors = {}
    for pair in text.replace(",", " ").split():
        host, sep, url = pair.partition("=")
        if not sep or not host or "://" not in url:
            raise ValueError(f"${MIRRORS_ENV}: expected registry=http(s)://endpoint, got {pair!r}")
        mirrors[host] = url.rstrip("/")
    return mirrors


def from_env() -> dict[str, str]:
    return parse(os.environ.get(MIRRORS_ENV, ""))


def hosts_toml(registry: str, endpoint: str) -> str:
    """containerd's hosts.toml for `registry`: try `endpoint` first (pull and resolve), then upstream."""
    server = UPSTREAM.get(registry, f"https://{registry}")
    return (f'server = "{server}"\n\n'
            f'[host."{endpoint}"]\n'
            '  capabilities = ["pull", "resolve"]\n'
            # A mirror on HTTPS with a site CA the node does not know is still a mirror of the site.
            + ('  skip_verify = true\n' if endpoint.startswith("https://") else ""))


def write_hosts(directory: Path, mirrors: Mapping[str, str]) -> None:
    """<directory>/<registry>/hosts.toml for each mirror; the directory holds exactly these registries.

    The directory is bind-mounted into running nodes and containerd reads it at every pull, so it is
    updated in place (never replaced): a changed mirror applies without recreating the cluster.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():
        if stale.name not in mirrors:
            shutil.rmtree(stale)
    for registry, endpoint in mirrors.items():
        (directory / registry).mkdir(exist_ok=True)
        (directory / registry / "hosts.toml").write_text(hosts_toml(registry, endpoint))
