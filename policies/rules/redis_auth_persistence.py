from policies import k8s, properties
from policies.engine import Rule


def check(_, ctx):
    for cm, conf in properties.config_maps_with(ctx.objects, "redis.conf"):
        settings = {line.split(None, 1)[0]: line.split(None, 1)[1].strip() for line in conf.splitlines()
                    if line.strip() and not line.lstrip().startswith("#") and len(line.split(None, 1)) == 2}
        if settings.get("appendonly") != "yes":
            yield cm, "appendonly is not 'yes': data written since the last snapshot is lost on restart"
        if settings.get("requirepass"):
            yield cm, "requirepass is written into the ConfigMap"
        for w in properties.mounting_workloads(cm, ctx.objects):
            envs = [e for c in k8s.containers(k8s.pod_spec(w)) for e in c.get("env") or []]
            if not any("PASS" in e.get("name", "") and (e.get("valueFrom") or {}).get("secretKeyRef") for e in envs):
                yield w, "starts Redis without a password from a Secret (AUTH off)"
            claims = (w.get("spec") or {}).get("volumeClaimTemplates") or [
                v for v in (k8s.pod_spec(w) or {}).get("volumes") or [] if "persistentVolumeClaim" in v]
            if not claims:
                yield w, "keeps Redis data on an ephemeral volume"


RULE = Rule(
    id="EAI-RDS-001", title="Redis has AUTH and persistence on", severity="error", scope="site",
    rationale="Redis holds the site's predictions and aggregates; without AUTH any pod that reaches it "
              "can read or flush them, without AOF on a volume a restart loses them.",
    remediation="Keep auth.enabled and persistence on in the redis chart; the password comes from "
                "Secret redis-auth.",
    check=check)
