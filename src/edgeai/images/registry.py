"""The site-local OCI registry: distribution (images/registry) in a container, and pushing to it.

On a developer machine it listens on 127.0.0.1:5001 for pushes from the host and joins the `kind`
network as `edgeai-registry:5000`, where the nodes' containerd reaches it through its mirror
configuration: the image names the pods use (`localhost:5001/...`, the `local` environment's
`images.mirror`) resolve to it on the host and inside the nodes alike, which is the path an
air-gapped site takes to its own registry.
"""

from __future__ import annotations

import time
import urllib.request

from edgeai.images import build
from edgeai.images.definitions import all_definitions

NAME = "edgeai-registry"
HOST_ADDRESS = "localhost:5001"          # what the host pushes to, and what the pods' images name
NODE_ENDPOINT = f"http://{NAME}:5000"    # what the kind nodes' containerd pulls from
VOLUME = "edgeai-registry-data"


def _state() -> str | None:
    proc = build._docker("inspect", "--format", "{{.State.Status}}", NAME, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def up(log=print) -> str:
    """Start the registry (building its image if needed); idempotent. Returns its host address."""
    image = build.build(all_definitions()["registry"], log=log)
    state = _state()
    if state != "running":
        if state is not None:
            build._docker("rm", "-f", NAME)
        log(f"starting the site registry {NAME} on {HOST_ADDRESS}")
        build._docker("run", "-d", "--name", NAME, "--restart", "unless-stopped",
                      "-p", f"127.0.0.1:{HOST_ADDRESS.split(':')[1]}:5000", "-v", f"{VOLUME}:/var/lib/registry", image)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST_ADDRESS}/v2/", timeout=2) as resp:
                if resp.status == 200:
                    return HOST_ADDRESS
        except OSError:
            if time.monotonic() > deadline:
                raise build.BuildError(f"the site registry {NAME} does not answer on {HOST_ADDRESS}") from None
            time.sleep(0.5)


def connect(network: str = "kind") -> None:
    """Put the registry on the kind nodes' network (as `edgeai-registry`), once."""
    networks = build._docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", NAME).stdout.decode()
    if f'"{network}"' not in networks:
        build._docker("network", "connect", network, NAME)


def down() -> list[str]:
    if _state() is None:
        return []
    build._docker("rm", "-f", NAME)
    return [f"registry container {NAME} (its data stays in the volume {VOLUME})"]


def served_digest(target: str) -> str | None:
    """The digest the registry serves for `host/repository:tag`, None when it has none."""
    host, _, rest = target.partition("/")
    repository, _, tag = rest.rpartition(":")
    request = urllib.request.Request(f"http://{host}/v2/{repository}/manifests/{tag}", method="HEAD", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.headers.get("Docker-Content-Digest")
    except OSError:
        return None


def push(refs: dict[str, str], log=print) -> list[str]:
    """Push built images (source reference -> reference at the registry) unless the registry already
    serves that very image (the digest it was last pushed with); returns what was pushed."""
    pushed = []
    for source, target in refs.items():
        build._docker("tag", source, target)
        digests = build._docker("image", "inspect", "--format", "{{json .RepoDigests}}", target).stdout.decode()
        served = served_digest(target)
        if served and served in digests:
            continue
        build._docker("push", target)
        log(f"pushed {target}")
        pushed.append(target)
    return pushed
