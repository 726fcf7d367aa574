from policies.engine import Rule


def check(obj, ctx):
    kind = (obj.get("spec") or {}).get("type", "ClusterIP")
    if kind in ("NodePort", "LoadBalancer"):
        yield f"Service of type {kind} exposes the site outside the cluster"


RULE = Rule(
    id="EAI-NET-002", title="No NodePort or LoadBalancer Services unless waived", severity="error",
    rationale="An edge site sits on a shop or factory LAN; every port opened on its nodes is reachable "
              "by every device there.",
    remediation="Keep Services ClusterIP; where devices must reach the site (ingest, API), add a waiver "
                "with the reason and an expiry date.",
    check=check, kinds=frozenset({"Service"}))
