"""The policy gate over one environment: rules on every site's rendered objects, with waivers.

Waivers are explicit exceptions in environment.yaml (`waivers:`), each with a reason and an
expiry date; `edgeai.waivers` says what one covers, for the gate and the Pulumi policy pack alike.
A waived violation is reported as waived; an expired waiver, or one that matches nothing, is a
violation in its own right so exceptions cannot outlive their reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from edgeai import catalog, waivers
from edgeai.composition import Release, namespaces
from edgeai.fleet import Environment, Site
from edgeai.objects import object_ref, violation_ref
from edgeai.problems import display
from edgeai.waivers import Waiver
from policies.engine import Context, Rule, Violation, all_rules, evaluate, evaluate_environment


@dataclass(frozen=True)
class Finding:
    """One thing wrong with what an environment would run."""
    environment: str
    site: str        # "" when about the environment as a whole
    rule: str        # policy rule id, or the stage that failed: render, schema
    severity: str    # error | warning
    message: str
    object: str = ""     # Kind/namespace/name
    release: str = ""
    file: str = ""
    line: int | None = None
    waived: str = ""     # the waiver's reason when one covers this finding

    @property
    def blocking(self) -> bool:
        return self.severity == "error" and not self.waived


WAIVER_EXPIRED = "EAI-WVR-001"
WAIVER_UNUSED = "EAI-WVR-002"


def waivers_of(env: Environment) -> list[Waiver]:
    return waivers.of(env.config)


def environment_context(env: Environment) -> Context:
    return Context(environment=env.config,
                   models={m.name: m.file.data for m in env.models.values()},
                   placement={m.name: [s.name for s in env.sites_of(m)] for m in env.models.values()})


def site_context(base: Context, site: Site, releases: list[Release], objects: list[dict[str, Any]]) -> Context:
    provided = {("Secret", ns, secret.name): frozenset(secret.keys)
                for ns, secret in catalog.site_secret_copies({r.component for r in releases})}
    return replace(base, site=site.file.data, objects=tuple(objects), namespaces=namespaces(releases),
                   provided=provided,
                   releases=tuple({"name": r.name, "component": r.component, "namespace": r.namespace,
                                   "syncWave": r.sync_wave, "values": r.values} for r in releases))


def _finding(env: Environment, site: str, v: Violation, release_of: dict[str, str]) -> Finding:
    return Finding(env.name, site, v.rule.id, v.rule.severity, v.message, object=violation_ref(v.obj),
                   release=release_of.get(v.object_ref, ""))


def check_environment(env: Environment, rules: list[Rule] | None = None) -> list[Finding]:
    return [_finding(env, "", v, {}) for v in evaluate_environment(environment_context(env), rules)]


def check_site(env: Environment, site: Site, releases: list[Release], objects_by_release: dict[str, list[dict]],
               base: Context, rules: list[Rule] | None = None) -> list[Finding]:
    objects = [o for objs in objects_by_release.values() for o in objs]
    ctx = site_context(base, site, releases, objects)
    release_of = {object_ref(o): name for name, objs in objects_by_release.items() for o in objs}
    return [_finding(env, site.name, v, release_of) for v in evaluate(objects, ctx, rules)]


def apply_waivers(env: Environment, findings: list[Finding], today: dt.date,
                  whole_environment: bool) -> list[Finding]:
    """Mark waived findings; add findings for expired waivers and, when the whole environment was
    checked, for waivers that matched nothing."""
    listed = waivers_of(env)
    where = {"file": display(env.file.path)}
    out = []
    for f in findings:
        valid = waivers.covering(listed, f.rule, f.site, f.object, today)
        out.append(replace(f, waived=valid.reason) if valid else f)
    for w in listed:
        line = env.file.line(("waivers", w.index))
        if w.expires < today:
            out.append(Finding(env.name, w.site or "", WAIVER_EXPIRED, "error",
                               f"waiver of {w.rule} expired on {w.expires.isoformat()}", line=line, **where))
        elif whole_environment and not w.used:
            out.append(Finding(env.name, w.site or "", WAIVER_UNUSED, "error",
                               f"waiver of {w.rule} matches no violation: remove it", line=line, **where))
    return out


def rules_by_id() -> dict[str, Rule]:
    return {r.id: r for r in all_rules()}
