from policies import k8s
from policies.engine import Rule


def image_tag(image: str) -> str:
    """'repo/name:tag@sha256:..' -> 'tag' ('' when untagged)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj)):
        image = c.get("image", "")
        tag, pinned = image_tag(image), "@" in image
        if not tag and not pinned:
            yield f"container {c.get('name')} image {image!r} has no tag"
        elif tag == "latest":
            yield f"container {c.get('name')} image {image!r} uses the moving tag 'latest'"


RULE = Rule(
    id="EAI-IMG-001", title="Images carry a release tag", severity="error",
    rationale="A moving tag makes two sites of the same revision run different code, and an "
              "offline site cannot pull the new image anyway.",
    remediation="Set image.tag to a release version.",
    check=check, kinds=k8s.WORKLOADS)
