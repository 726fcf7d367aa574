from edgeai import capacity
from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    spec = k8s.pod_spec(obj)
    gpus = capacity.pod_demand(spec).gpu if spec else 0
    have = ((ctx.site.get("nodes") or {}).get("gpu") or {}).get("count", 0)
    if gpus > have:
        yield (f"pods ask {gpus} GPU(s) but the site's nodes have {have}" if have
               else f"pods ask {gpus} GPU(s) on a site without GPUs")


RULE = Rule(
    id="EAI-GPU-001", title="GPU requests only where GPUs exist, within their count", severity="error",
    rationale="A pod asking for more GPUs than a node has is never scheduled; the model it serves is "
              "silently missing from the site.",
    remediation="Place GPU models only in regions with GPU sites (model gpu:), or lower gpu.",
    check=check, kinds=k8s.WORKLOADS)
