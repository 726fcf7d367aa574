from policies import k8s
from policies.engine import Rule


def _annotations(obj):
    spec = obj.get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}


def check(obj, ctx):
    annotations = _annotations(obj)
    if "prometheus.io/scrape" not in annotations:
        yield "pods do not say whether Prometheus scrapes them (prometheus.io/scrape)"
        return
    if annotations["prometheus.io/scrape"] == "true":
        port = annotations.get("prometheus.io/port")
        if port is None:
            yield "pods are scraped but have no prometheus.io/port annotation"
            return
        declared = {str(p) for c in k8s.containers(k8s.pod_spec(obj), init=False) for p in k8s.declared_ports(c)}
        if port not in declared:
            yield f"prometheus.io/port {port} is not a declared container port"


RULE = Rule(
    id="EAI-OBS-001", title="Workloads are scraped on a port they declare, or opt out explicitly",
    severity="warning",
    rationale="Unattended sites are only as observable as their metrics; a silent workload is noticed "
              "when a customer calls.",
    remediation="Annotate pods with prometheus.io/scrape, /port and /path (or scrape: 'false' with a reason).",
    check=check, kinds=k8s.LONG_RUNNING)
