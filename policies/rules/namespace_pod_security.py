from edgeai.podsecurity import LABEL_PREFIX as LABEL
from edgeai.podsecurity import LEVELS
from policies.engine import Context, Obj, Rule


def check(obj: Obj, ctx: Context):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    name = (obj.get("metadata") or {}).get("name")
    level = labels.get(f"{LABEL}/enforce")
    needed = ctx.namespaces.get(name, ctx.pod_security)
    if level is None:
        yield f"namespace {name} has no {LABEL}/enforce label"
        return
    if level not in LEVELS:
        yield f"namespace {name}: {LABEL}/enforce is {level!r}, not one of {', '.join(LEVELS)}"
        return
    if needed in LEVELS and LEVELS.index(level) < LEVELS.index(needed):
        yield (f"namespace {name} enforces Pod Security {level!r}, weaker than the {needed!r} "
               "its components are declared to need")
    if f"{LABEL}/enforce-version" not in labels:
        yield f"namespace {name} has no {LABEL}/enforce-version label (pin the policy version)"


RULE = Rule(
    id="EAI-NS-001",
    title="Namespaces enforce their Pod Security level",
    severity="error",
    rationale="Pod Security admission only checks namespaces that carry its label; an unlabelled "
              "namespace admits privileged pods, and an unpinned version changes the policy with "
              "every Kubernetes upgrade.",
    remediation="Create namespaces with pod-security.kubernetes.io/enforce (the level edgeai.catalog "
                "declares for the namespace, restricted by default) and enforce-version; the site and "
                "training stacks do (stacks/common.py).",
    check=check,
    kinds=frozenset({"Namespace"}),
)
