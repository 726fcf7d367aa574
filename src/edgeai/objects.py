"""How the platform names a Kubernetes object in reports, waivers and diffs."""

from __future__ import annotations

from typing import Any


def object_ref(obj: dict[str, Any]) -> str:
    """Kind/namespace/name, or Kind/name for cluster-scoped objects (the form waivers use)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"
