from edgeai import capacity
from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    spec = k8s.pod_spec(obj)
    if not spec or not capacity.pod_demand(spec).gpu:
        return
    if not any(t.get("key") == "nvidia.com/gpu" or t.get("operator") == "Exists" and not t.get("key")
               for t in spec.get("tolerations") or []):
        yield "GPU pod does not tolerate the nvidia.com/gpu taint"
    if not (spec.get("nodeSelector") or {}) and not (spec.get("affinity") or {}).get("nodeAffinity"):
        yield "GPU pod does not select GPU nodes"


RULE = Rule(
    id="EAI-GPU-003", title="GPU pods tolerate and select GPU nodes", severity="error",
    rationale="GPU nodes are tainted so that ordinary pods keep off them; a GPU pod must tolerate the "
              "taint and select the nodes that carry the device plugin.",
    remediation="Add a toleration for nvidia.com/gpu and a nodeSelector such as "
                "nvidia.com/gpu.present: 'true'.",
    check=check, kinds=k8s.WORKLOADS)
