from policies import k8s
from policies.engine import Rule

# Writable host state is confined to per-component folders under this prefix.
WRITABLE_PREFIX = "/var/lib/edgeai-"


def check(obj, ctx):
    spec = k8s.pod_spec(obj) or {}
    host_paths = {v["name"]: v["hostPath"].get("path", "") for v in spec.get("volumes") or [] if "hostPath" in v}
    if not host_paths:
        return
    if ctx.level_of(obj) != "privileged":
        for volume in sorted(host_paths):
            yield f"hostPath volume {volume} in a namespace that is not privileged"
        return
    for c in k8s.containers(spec):
        for mount in c.get("volumeMounts") or []:
            path = host_paths.get(mount.get("name"))
            if path is not None and not mount.get("readOnly") and not path.startswith(WRITABLE_PREFIX):
                yield f"container {c.get('name')} mounts host path {path} writable"


RULE = Rule(
    id="EAI-SEC-005", title="hostPath only in privileged namespaces, read-only outside edgeai state",
    severity="error",
    rationale="A writable host path is a way out of the container onto the node. Only the log agent "
              "needs host paths, to read node logs and keep its tail positions.",
    remediation="Use a PVC or emptyDir; if host files must be read, mount them readOnly in the "
                "privileged log-agent namespace; keep writable state under /var/lib/edgeai-<component>.",
    check=check, kinds=k8s.WORKLOADS)
