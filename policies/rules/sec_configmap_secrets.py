import re

from policies.engine import Rule

PATTERNS = {
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "a password": re.compile(r"(?im)^\s*[\w.-]*(password|passwd|secret)[\w.-]*\s*[:=]\s*[\"']?"
                             r"(?![\"']?\s*$)(?![\"']?[$<{/])(?!.*_FILE)([^\s\"']{4,})"),
}


def check(obj, ctx):
    for key, value in ((obj.get("data") or {}) | (obj.get("binaryData") or {})).items():
        for what, pattern in PATTERNS.items():
            if pattern.search(str(value)):
                yield f"key {key} contains {what}"


RULE = Rule(
    id="EAI-SEC-008", title="No secrets in ConfigMaps", severity="error",
    rationale="ConfigMaps are readable by anyone who may read the namespace's configuration and are "
              "printed in reviews and logs.",
    remediation="Move the value to a Secret and reference it (env secretKeyRef, a mounted file, or a "
                "${VARIABLE} the process resolves).",
    check=check, kinds=frozenset({"ConfigMap"}))
