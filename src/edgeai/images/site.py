"""The images a site runs, in the registry its nodes pull from.

`edgeai up` on kind calls `provide` after the cluster is up: the site registry runs, joins the
nodes' network, and holds every image the site's rendered pods name (built here when missing),
so nothing is pulled from outside — as on an air-gapped site.
"""

from __future__ import annotations

from typing import Any

from edgeai.fleet import Environment
from edgeai.images import build, registry
from edgeai.images.definitions import definition_for, split_ref
from edgeai.images.needed import pod_images


def mirrors() -> dict[str, str]:
    """The kind nodes' containerd mirrors: the site registry's host name, as the pods name it."""
    return {registry.HOST_ADDRESS: registry.NODE_ENDPOINT}


def pinned_registry(env: Environment) -> str | None:
    """The site registry, when the environment pulls from it: its images are run by digest."""
    return registry.HOST_ADDRESS if env.config.get("images", {}).get("mirror") == registry.HOST_ADDRESS else None


def provide(env: Environment, objects: list[dict[str, Any]], log=print) -> list[str]:
    """Build and push the images of `objects` (the site's rendered objects) to the site registry.
    Returns the images that have no build definition (the caller says they cannot run)."""
    if not pinned_registry(env):
        mirror = env.config.get("images", {}).get("mirror")
        log(f"images: {env.name} pulls from {mirror or 'the charts registries'}, not the site registry "
            f"{registry.HOST_ADDRESS}: nothing pushed")
        return []
    registry.up(log)
    registry.connect()
    wanted, missing = {}, []
    for ref in sorted(pod_images(objects)):
        d = definition_for(ref)
        if d is None:
            missing.append(ref)
        elif split_ref(ref)[0] == registry.HOST_ADDRESS:
            wanted[d.name] = ref
    built = build.build_all(sorted(wanted), log=log)
    pushed = registry.push({built[name]: ref for name, ref in wanted.items()}, log)
    log(f"images: {len(wanted)} in the site registry {registry.HOST_ADDRESS} ({len(pushed)} pushed now)")
    return missing
