"""How the platform names a Kubernetes object in reports, waivers and diffs."""

from __future__ import annotations

from typing import Any


def object_ref(obj: dict[str, Any]) -> str:
    """Kind/namespace/name, or Kind/name for cluster-scoped objects (the form waivers use)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


def violation_ref(obj: dict[str, Any]) -> str:
    """The object a violation is about, as findings and waivers name it: "" when a rule judged the
    site or the environment as a whole (the pseudo-objects Site and Environment)."""
    return "" if obj.get("kind") in ("Site", "Environment") else object_ref(obj)
