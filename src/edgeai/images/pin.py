"""Pin the site registry's images by digest in a release's manifest (a helm post-renderer).

A tag names a version, not a build: when `edgeai up` pushes a rebuilt image under the same tag, a
node that already holds the tag would keep running the old build (imagePullPolicy IfNotPresent).
Pinned as `<ref>@sha256:...` from the registry that serves it, a changed image changes the
manifest, helm rolls the pods, and an unchanged one leaves the release untouched.

    helm upgrade ... --post-renderer <python> --post-renderer-args -m --post-renderer-args edgeai.images.pin \
                     --post-renderer-args localhost:5001
"""

from __future__ import annotations

import re
import sys

from edgeai.images import registry

_IMAGE = re.compile(r"^(\s*-?\s*image:\s*)[\"']?([^\s\"'@]+)[\"']?\s*$")


def pin(manifest: str, host: str) -> str:
    """Every `image:` of `host` gets the digest the registry serves for it (left as is when none)."""
    digests: dict[str, str | None] = {}
    out = []
    for line in manifest.splitlines(keepends=True):
        match = _IMAGE.match(line.rstrip("\n"))
        if match and match.group(2).startswith(f"{host}/"):
            ref = match.group(2)
            if ref not in digests:
                digests[ref] = registry.served_digest(ref)
            if digests[ref]:
                line = f"{match.group(1)}{ref}@{digests[ref]}\n"
        out.append(line)
    return "".join(out)


if __name__ == "__main__":
    sys.stdout.write(pin(sys.stdin.read(), sys.argv[1]))
