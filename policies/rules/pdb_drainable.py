from policies import k8s
from policies.engine import Rule


def check(obj, ctx):
    spec = obj.get("spec") or {}
    selected = [w for w in ctx.objects if w.get("kind") in ("Deployment", "StatefulSet")
                and k8s.namespace(w) == k8s.namespace(obj) and k8s.matches(spec.get("selector"), k8s.pod_labels(w))]
    if "maxUnavailable" in spec:
        if str(spec["maxUnavailable"]) in ("0", "0%"):
            yield "maxUnavailable 0 blocks every node drain"
        return
    if "minAvailable" in spec:
        for w in selected:
            if str(spec["minAvailable"]) == "100%" or (
                    isinstance(spec["minAvailable"], int) and spec["minAvailable"] >= k8s.replicas(w, ctx.objects)):
                yield f"minAvailable {spec['minAvailable']} leaves {k8s.ref(w)} no pod to evict: drains block"


RULE = Rule(
    id="EAI-REL-002", title="PodDisruptionBudgets never block a drain", severity="error",
    rationale="A PDB that allows no eviction stops node upgrades at every site it reaches, with "
              "nobody on site to intervene.",
    remediation="Use maxUnavailable: 1 (edgeai.pdb).",
    check=check, kinds=frozenset({"PodDisruptionBudget"}))
