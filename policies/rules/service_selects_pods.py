from policies import k8s
from policies.engine import Rule


def _pods(workload):
    """Label sets of the workload's pods: its template's, plus the StatefulSet controller's per-pod
    labels (statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index) that a Service of one
    pod (e.g. Kafka's per-broker external Services) selects by."""
    labels = k8s.pod_labels(workload)
    if workload.get("kind") != "StatefulSet":
        return [labels]
    name = workload["metadata"]["name"]
    replicas = (workload.get("spec") or {}).get("replicas", 1)
    return [{**labels, "statefulset.kubernetes.io/pod-name": f"{name}-{i}", "apps.kubernetes.io/pod-index": str(i)}
            for i in range(int(replicas))]


def check(obj, ctx):
    selector = (obj.get("spec") or {}).get("selector")
    if not selector:  # headless Services for external endpoints select nothing on purpose
        return
    if not any(w.get("kind") in k8s.WORKLOADS and k8s.namespace(w) == k8s.namespace(obj)
               and any(k8s.matches(selector, pod) for pod in _pods(w)) for w in ctx.objects):
        yield f"selector {selector} matches no pods of the site"


RULE = Rule(
    id="EAI-SEL-001", title="Services select pods that exist", severity="error",
    rationale="A Service whose selector matches nothing has no endpoints: every call to it fails, "
              "though every object looks healthy.",
    remediation="Use the workload's selector labels (edgeai.selectorLabels) in the Service.",
    check=check, kinds=frozenset({"Service"}))
