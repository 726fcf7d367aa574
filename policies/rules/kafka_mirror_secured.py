from policies import properties
from policies.engine import Rule

ENCRYPTED = ("SSL", "SASL_SSL")


def _in_cluster(host: str) -> bool:
    """A Service name (short, or under .svc) or loopback: traffic that stays on the site's cluster."""
    return host in ("localhost", "127.0.0.1") or "." not in host or host.endswith((".svc", ".svc.cluster.local"))


def _remote(bootstrap: str) -> bool:
    hosts = [server.strip().rsplit(":", 1)[0] for server in bootstrap.split(",") if server.strip()]
    return not all(_in_cluster(host) for host in hosts)


def check(_, ctx):
    for cm, text in properties.config_maps_with(ctx.objects, "mirror-maker.properties"):
        props = properties.parse(text)
        for alias in (a.strip() for a in props.get("clusters", "").split(",") if a.strip()):
            bootstrap = props.get(f"{alias}.bootstrap.servers", "")
            protocol = props.get(f"{alias}.security.protocol", "PLAINTEXT")
            if _remote(bootstrap) and protocol not in ENCRYPTED:
                yield cm, (f"MirrorMaker reaches cluster {alias!r} ({bootstrap}) outside the site over {protocol}: "
                           "records and credentials cross the network in clear")
            elif _remote(bootstrap) and protocol == "SSL" and not props.get(f"{alias}.ssl.keystore.location"):
                yield cm, f"MirrorMaker reaches cluster {alias!r} ({bootstrap}) over SSL without authenticating"


RULE = Rule(
    id="EAI-KFK-004", title="MirrorMaker leaves the site only encrypted and authenticated", severity="error",
    scope="site",
    rationale="A site's MirrorMaker 2 ships every sensor event, prediction and alert to the cloud over networks "
              "the platform does not own; in clear, anyone on the path reads and injects them, and the cloud "
              "cluster cannot tell one site from another.",
    remediation="Keep kafka mirrorMaker.targetAuth on (SASL_SSL, SCRAM, the site's user from Secret "
                "kafka-mirror-target), as the composition sets it whenever cloud.kafkaBootstrap is declared.",
    check=check)
