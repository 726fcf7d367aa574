from edgeai import capacity
from policies.engine import Context, Obj, Rule


def check(obj: Obj, ctx: Context):
    spec = capacity.pod_spec(obj) or {}
    require_digest = ctx.environment.get("images", {}).get("requireDigest", False)
    for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        image = c.get("image", "")
        name, _, digest = image.partition("@")
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        if not tag and not digest:
            yield f"container {c.get('name')} image {image!r} has no tag"
        elif tag == "latest":
            yield f"container {c.get('name')} image {image!r} uses the moving tag 'latest'"
        elif require_digest and not digest:
            yield f"container {c.get('name')} image {image!r} is not pinned by digest"


RULE = Rule(
    id="EAI-IMG-001",
    title="Images are pinned",
    severity="error",
    rationale="A moving tag makes two sites of the same revision run different code, and an "
              "offline site cannot pull the new image anyway.",
    remediation="Set image.tag to a release (and image.digest where the environment requires digests).",
    check=check,
    kinds=frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}),
)
