"""Pin the site registry's images by digest in a release's manifest (a helm post-renderer).

A tag names a version, not a build: when `edgeai up` pushes a rebuilt image under the same tag, a
node that already holds the tag would keep running the old build (imagePullPolicy IfNotPresent).
Pinned as `<ref>@sha256:...` from the registry that serves it, a changed image changes the
manifest, helm rolls the pods, and an unchanged one leaves the release untouched.

Not pinned: the init containers of GIT_OWNED, whose image is the model artifact itself (an oci://
model image) or its fetcher (rclone for s3://): a promotion changes it through Git, so on a site that
Argo CD runs it must be exactly what Git says (edgeai.gitops.local ignores every other image).

    helm upgrade ... --post-renderer <python> --post-renderer-args -m --post-renderer-args edgeai.images.pin \
                     --post-renderer-args localhost:5001
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import yaml

from edgeai.images import registry

GIT_OWNED = frozenset({"fetch-model"})   # charts/model-serving: copies or fetches the model's artifact


def pod_specs(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Pod":
        yield spec
    elif doc.get("kind") == "CronJob":
        yield from [((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}]
    elif isinstance(spec.get("template"), dict):
        yield spec["template"].get("spec") or {}


def pin(manifest: str, host: str) -> str:
    """Every image of `host` gets the digest the registry serves for it (left as is when none)."""
    digests: dict[str, str | None] = {}
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    for doc in docs:
        for spec in pod_specs(doc):
            pinned = [*(c for c in spec.get("initContainers") or [] if c.get("name") not in GIT_OWNED),
                      *(spec.get("containers") or [])]
            for c in pinned:
                ref = c.get("image", "")
                if ref.startswith(f"{host}/") and "@" not in ref:
                    if ref not in digests:
                        digests[ref] = registry.served_digest(ref)
                    if digests[ref]:
                        c["image"] = f"{ref}@{digests[ref]}"
    return yaml.safe_dump_all(docs, sort_keys=False, width=10_000)


if __name__ == "__main__":
    sys.stdout.write(pin(sys.stdin.read(), sys.argv[1]))
