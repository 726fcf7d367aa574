"""Java-style .properties parsing and finding the workload that mounts a ConfigMap."""

from __future__ import annotations

from policies import k8s


def parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=len(line))
            out[line[:cut].strip()] = line[cut + 1:].strip()
    return out


def config_maps_with(objects, key: str):
    """(ConfigMap, file text) for every ConfigMap that has `key` in its data."""
    for obj in objects:
        if obj.get("kind") == "ConfigMap" and key in (obj.get("data") or {}):
            yield obj, obj["data"][key]


def mounting_workloads(config_map, objects):
    """Workloads in the ConfigMap's namespace whose pods mount it."""
    for w in objects:
        if w.get("kind") in k8s.WORKLOADS and k8s.namespace(w) == k8s.namespace(config_map):
            for volume in (k8s.pod_spec(w) or {}).get("volumes") or []:
                if (volume.get("configMap") or {}).get("name") == k8s.name(config_map):
                    yield w
                    break
