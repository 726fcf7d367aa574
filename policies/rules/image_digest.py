from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    if not (ctx.environment.get("images") or {}).get("requireDigest"):
        return
    for c in k8s.containers(k8s.pod_spec(obj)):
        if "@sha256:" not in c.get("image", ""):
            yield f"container {c.get('name')} image {c.get('image')!r} is not pinned by digest"


RULE = Rule(
    id="EAI-IMG-003", title="Images pinned by digest where the environment requires it", severity="error",
    rationale="A tag can be re-pushed; a digest cannot. Environments that must prove what runs "
              "(images.requireDigest) pin every image by digest.",
    remediation="Set image.digest (sha256:...) for every image of the environment.",
    check=check, kinds=k8s.WORKLOADS)
