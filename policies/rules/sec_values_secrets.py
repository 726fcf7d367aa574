import re

from edgeai.formats import secret_in
from policies.engine import Rule

SECRET_KEY = re.compile(r"^(password|passwd|secret|token|apiKey|api_key|accessKey|secretKey|privateKey)$", re.I)


def _walk(value, path):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, [*path, str(k)])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, [*path, str(i)])
    elif path and SECRET_KEY.match(path[-1]) and isinstance(value, str) and value:
        yield ".".join(path), "a secret"
    elif isinstance(value, str) and (kind := secret_in(value)):
        # A password inside a JAAS line, user:pass@ in a URL, a token: the key does not say so.
        yield ".".join(path), kind


def check(_, ctx):
    for release in ctx.releases:
        for path, kind in _walk(release.get("values", {}), []):
            yield None, f"release {release['name']}: value {path} holds {kind}"


RULE = Rule(
    id="EAI-SEC-009", title="No secrets in Helm values", severity="error", scope="site",
    rationale="Release values are written into Git (environments/) and inline into every Argo CD "
              "Application; a secret there is a secret published.",
    remediation="Keep the secret in Pulumi secret config; the site stack creates the Secret and the "
                "chart references it by name (existingSecret).",
    check=check)
