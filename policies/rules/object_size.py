import json

from policies.engine import Rule

# Kubernetes refuses a ConfigMap or Secret whose data exceeds 1 MiB, and etcd any request over
# 1.5 MiB (its default --max-request-bytes).
MAX_DATA_BYTES = 1 << 20
MAX_OBJECT_BYTES = 3 << 19


def check(obj, ctx):
    size = len(json.dumps(obj, separators=(",", ":")))
    if obj.get("kind") in ("ConfigMap", "Secret"):
        data = sum(len(str(v)) for f in ("data", "binaryData", "stringData") for v in (obj.get(f) or {}).values())
        if data > MAX_DATA_BYTES:
            yield (f"its data takes {data} bytes; Kubernetes refuses a {obj['kind']} over "
                   f"{MAX_DATA_BYTES} bytes (1 MiB)")
            return
    if size > MAX_OBJECT_BYTES:
        yield f"the object takes {size} bytes; etcd refuses objects over {MAX_OBJECT_BYTES} bytes (1.5 MiB)"


RULE = Rule(
    id="EAI-REL-005", title="Objects fit Kubernetes' size limits", severity="error",
    rationale="Argo CD would fail to apply an object the API server refuses (a ConfigMap over 1 MiB, "
              "an object over etcd's 1.5 MiB), and the site would stay on its old revision.",
    remediation="Keep large content (Siddhi apps, dashboards) small or split it over several "
                "ConfigMaps; ship data through the artifact store, not values.",
    check=check)
