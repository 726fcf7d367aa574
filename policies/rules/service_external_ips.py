from policies.engine import Rule


def check(obj, ctx):
    if (obj.get("spec") or {}).get("externalIPs"):
        yield "sets externalIPs"


RULE = Rule(
    id="EAI-NET-003", title="No Service externalIPs", severity="error",
    rationale="externalIPs let a Service capture traffic for any address (CVE-2020-8554); nothing in "
              "the platform needs them.",
    remediation="Remove spec.externalIPs.",
    check=check, kinds=frozenset({"Service"}))
