import functools
import re

from policies.engine import Rule

PATTERNS = {
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    # [ \t]*, not \s*: a key without a value ends at the line, not at the next line's key.
    "a password": re.compile(r"(?im)^\s*(?![\w.-]*existing)[\w.-]*(password|passwd|secret)[ \t]*[:=][ \t]*[\"']?"
                             r"(?![\"']?\s*$)(?![\"']?[$<{/])(?!.*_FILE)([^\s\"']{4,})"),
}


@functools.lru_cache(maxsize=4096)
def secrets_in(text: str) -> tuple[str, ...]:
    """What secret-looking content a file holds. Cached: the same dashboards and configs are
    rendered for thousands of sites, and these patterns are the gate's most expensive check."""
    return tuple(what for what, pattern in PATTERNS.items() if pattern.search(text))


def check(obj, ctx):
    for key, value in ((obj.get("data") or {}) | (obj.get("binaryData") or {})).items():
        for what in secrets_in(str(value)):
            yield f"key {key} contains {what}"


RULE = Rule(
    id="EAI-SEC-008", title="No secrets in ConfigMaps", severity="error",
    rationale="ConfigMaps are readable by anyone who may read the namespace's configuration and are "
              "printed in reviews and logs.",
    remediation="Move the value to a Secret and reference it (env secretKeyRef, a mounted file, or a "
                "${VARIABLE} the process resolves).",
    check=check, kinds=frozenset({"ConfigMap"}))
