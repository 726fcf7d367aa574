from policies import k8s
from policies.engine import Rule


def check(_, ctx):
    services = {(k8s.namespace(o), k8s.name(o)) for o in ctx.objects if o.get("kind") == "Service"}
    hosts = {f"{name}.{ns}.svc.cluster.local" for ns, name in services} | {f"{n}.{ns}.svc" for ns, n in services}
    for release in ctx.releases:
        for route in (release.get("values") or {}).get("routes") or []:
            canary = route.get("canary")
            if not canary:
                continue
            weight = canary.get("weight")
            if not isinstance(weight, int) or not 0 <= weight <= 100:
                yield None, f"model {route.get('model')}: canary weight {weight} is not within 0-100"
            for role, host in (("stable", route.get("service")), ("canary", canary.get("service"))):
                if host not in hosts:
                    yield None, f"model {route.get('model')}: the {role} version ({host}) is not served on the site"


RULE = Rule(
    id="EAI-MDL-002", title="Canaries split 0-100% between two served versions", severity="error",
    scope="site",
    rationale="A canary route to a version that is not served answers 502 for its share of requests; "
              "a weight outside 0-100 is not a split.",
    remediation="Give the model file canary.weight within 0-100; the model-serving chart serves both "
                "versions.",
    check=check)
