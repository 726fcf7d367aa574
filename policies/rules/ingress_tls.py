from policies.engine import Rule


def check(obj, ctx):
    spec = obj.get("spec") or {}
    covered = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
    for rule in spec.get("rules") or []:
        host = rule.get("host", "*")
        if host not in covered:
            yield f"host {host} is served without TLS"
    if not spec.get("rules") and not spec.get("tls"):
        yield "serves the default backend without TLS"


RULE = Rule(
    id="EAI-NET-004", title="Ingresses terminate TLS", severity="error",
    rationale="Inference requests and API keys cross the site's LAN; in clear they can be read and replayed.",
    remediation="Add spec.tls entries covering every host.",
    check=check, kinds=frozenset({"Ingress"}))
