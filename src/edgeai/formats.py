"""Strict formats of what users type: CIDRs, image references, plausible quantities, and strings
that carry a secret. Each check returns None when the value is fine, else what is wrong and how
to fix it, so the schemas (as JSON Schema formats), the component-override checks and the policy
rules share one definition."""

from __future__ import annotations

import ipaddress
import re

from edgeai.capacity import quantity

# --- CIDRs -----------------------------------------------------------------------------------

def cidr_problem(value: str) -> str | None:
    """'10.0.0.0/8' is fine; '10.0.0.0/266', '10.0.0.300/32' or '10.0.0.0' are not."""
    if "/" not in value:
        return f"{value!r} is not a CIDR (address/prefix)"
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as err:
        return f"{value!r} is not a valid CIDR: {err}"
    return None


# --- image references ------------------------------------------------------------------------

# OCI distribution grammar: path components and tag.
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_REGISTRY = re.compile(r"^[a-zA-Z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._/-]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def image_problem(image: dict) -> tuple[str, str, str] | None:
    """(key, what is wrong, fix) for a chart's image block {registry, repository, tag, digest}."""
    repo, tag = image.get("repository"), image.get("tag")
    if isinstance(repo, str) and repo:
        last = repo.rsplit("/", 1)[-1]
        if "@" in repo or ":" in last:
            return ("repository", f"repository {repo!r} already carries a tag or digest, so the image "
                    "reference would read two", "put the version in image.tag (and a digest in "
                    "image.digest), and only the name in image.repository")
        if not _REPOSITORY.match(repo):
            return ("repository", f"repository {repo!r} is not a valid image name (lower-case "
                    "letters, digits, '.', '_', '-' and '/')", "")
    if isinstance(tag, str) and tag and not _TAG.match(tag):
        return ("tag", f"tag {tag!r} is not a valid image tag (letters, digits, '_', '.', '-'; "
                "at most 128)", "")
    registry = image.get("registry")
    if isinstance(registry, str) and registry and not _REGISTRY.match(registry):
        return ("registry", f"registry {registry!r} is not a registry host[:port]", "e.g. docker.io")
    return None


# --- quantities ------------------------------------------------------------------------------

# Bounds of one container's request or limit; beyond them a unit was almost surely mistyped.
MAX_CONTAINER_CPU = 64            # cores: '500' for 500m would ask for 500 cores
MIN_CONTAINER_BYTES = 2**20       # 1Mi: '512' for 512Mi would ask for 512 bytes
MAX_CONTAINER_BYTES = 2**40       # 1Ti


def resource_problem(resource: str, value) -> tuple[str, str] | None:
    """(what is wrong, fix) for a container's cpu, memory or ephemeral-storage quantity."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None  # a type error: the chart's schema says so
    try:
        amount = quantity(value)
    except ValueError:
        return None  # the chart's schema reports the form
    if resource == "cpu" and amount > MAX_CONTAINER_CPU:
        return (f"cpu {value!r} asks for {amount:g} cores for one container",
                f"did you mean '{value}m' (millicores)?")
    if resource in ("memory", "ephemeral-storage"):
        if 0 < amount < MIN_CONTAINER_BYTES:
            return (f"{resource} {value!r} is {amount:g} bytes", f"did you mean '{value}Mi'?")
        if amount > MAX_CONTAINER_BYTES:
            return (f"{resource} {value!r} is over 1Ti for one container", "check the unit (Mi, Gi)")
    return None


# --- secrets in strings ----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"^(\$\{[^}]*\}|\$\([^)]*\)|\{\{.*\}\}|<[^>]*>|\*+|x+)$", re.I)
_URL_USERINFO = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/\s@?#]+)@", re.I)
_QUERY_SECRET = re.compile(r"[?&](?:access_?token|token|password|passwd|api_?key|secret|sig|signature)"
                           r"=([^&#\s]+)", re.I)
_ASSIGNED_SECRET = re.compile(r"\b(?:password|passwd|pwd|secret|token|api_?key|secret_?key|access_?key)"
                              r"\s*[=:]\s*(\"[^\"]*\"|'[^']*'|[^\s\"';,]+)", re.I)
_KNOWN_TOKEN = re.compile(r"\b(ghp_[A-Za-z0-9]{20,}|gh[ousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
                          r"|glpat-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,}"
                          r"|sk-[A-Za-z0-9]{20,})")


def _real(secret: str) -> bool:
    secret = secret.strip("\"'")
    return bool(secret) and not _PLACEHOLDER.match(secret)


def secret_in(text: str) -> str | None:
    """What kind of secret a string carries in plain text, or None."""
    if not isinstance(text, str) or len(text) < 6:
        return None
    if _KNOWN_TOKEN.search(text):
        return "an access token"
    for match in _URL_USERINFO.finditer(text):
        user, _, password = match.group(1).partition(":")
        if password and _real(password):
            return "a password in a URL (user:password@)"
        if not password and len(user) >= 20:
            return "a token in a URL (token@host)"
    for match in _QUERY_SECRET.finditer(text):
        if _real(match.group(1)):
            return "a secret in a URL's query"
    for match in _ASSIGNED_SECRET.finditer(text):
        if _real(match.group(1)):
            return "a password assignment (password=...)"
    return None


SECRET_FIX = ("keep secrets out of Git: put it in Pulumi secret config (the site stack creates the "
              "Secret) and reference the Secret by name")
