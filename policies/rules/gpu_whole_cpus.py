from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    for c in k8s.containers(k8s.pod_spec(obj), init=False):
        resources = c.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        if not int(limits.get("nvidia.com/gpu", 0) or 0):
            continue
        cpu_req, cpu_lim = requests.get("cpu"), limits.get("cpu")
        if cpu_req is None or cpu_lim is None or k8s.quantity(cpu_req) != k8s.quantity(cpu_lim):
            yield f"GPU container {c.get('name')} must request as much CPU as its limit"
        elif k8s.quantity(cpu_req) != int(k8s.quantity(cpu_req)):
            yield f"GPU container {c.get('name')} requests a fraction of a CPU ({cpu_req})"
        mem_req, mem_lim = requests.get("memory"), limits.get("memory")
        if (mem_req is None) != (mem_lim is None) or (
                mem_req is not None and k8s.quantity(mem_req) != k8s.quantity(mem_lim)):
            yield f"GPU container {c.get('name')} must request as much memory as its limit"


RULE = Rule(
    id="EAI-GPU-002", title="GPU workloads get whole, exclusive CPUs", severity="error",
    rationale="The CPU manager's static policy pins exclusive cores only to Guaranteed pods with "
              "whole-CPU requests; GPU inference otherwise shares cores and its latency jitters.",
    remediation="Set integer CPU requests equal to limits, and memory requests equal to limits.",
    check=check, kinds=k8s.WORKLOADS)
