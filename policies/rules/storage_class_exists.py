from policies.engine import Rule


def _claims(obj):
    if obj.get("kind") == "PersistentVolumeClaim":
        yield obj.get("spec") or {}
    elif obj.get("kind") == "StatefulSet":
        for template in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            yield template.get("spec") or {}


def check(obj, ctx):
    available = ctx.site.get("storageClass", "local-path")
    for spec in _claims(obj):
        wanted = spec.get("storageClassName")
        if wanted and wanted != available:
            yield f"asks for storage class {wanted!r}; the site has {available!r}"


RULE = Rule(
    id="EAI-STO-001", title="Volumes use the site's storage class", severity="error",
    rationale="A claim for a storage class the site lacks stays Pending, and so does the StatefulSet.",
    remediation="Leave storageClassName to global.storageClass (set from the site's storageClass).",
    check=check, kinds=frozenset({"PersistentVolumeClaim", "StatefulSet"}))
