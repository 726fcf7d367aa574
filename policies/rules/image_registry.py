from policies import k8s
from policies.engine import Rule


def registry_of(image: str) -> str:
    """The registry host of an image reference (docker.io when none is named)."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def check(obj, ctx):
    images = ctx.environment.get("images") or {}
    allowed = set(images.get("allowedRegistries") or [])
    if images.get("mirror"):
        allowed.add(registry_of(images["mirror"] + "/x"))
    if not allowed:
        return
    for c in k8s.containers(k8s.pod_spec(obj)):
        registry = registry_of(c.get("image", ""))
        if registry not in allowed:
            yield f"container {c.get('name')} pulls from {registry}, not one of {', '.join(sorted(allowed))}"


RULE = Rule(
    id="EAI-IMG-002", title="Images come from allowed registries", severity="error",
    rationale="Sites pull through a known set of registries (or one mirror when air-gapped); an "
              "image from elsewhere is unreviewed code and, offline, an image that never arrives.",
    remediation="Use an image from images.allowedRegistries, or add its registry there in review.",
    check=check, kinds=k8s.WORKLOADS)
