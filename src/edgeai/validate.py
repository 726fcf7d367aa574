"""`edgeai validate`: the gate over the fleet.

Per environment: its files (schemas and cross-file rules, done by loading), the values of every
release against its chart's schema, every release rendered exactly as Argo CD will, every
rendered object against the Kubernetes schema of the site's version, then the policy catalog
with the environment's waivers. Exit 0 clean, 1 violations (errors, not warnings), 2 bad input.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from edgeai import gate, helm, render
from edgeai.changes import ObjectChanges
from edgeai.composition import Release, compose
from edgeai.fleet import Environment, Site
from edgeai.gate import Finding
from edgeai.problems import Problem


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)  # bad input
    findings: list[Finding] = field(default_factory=list)  # violations, warnings and waived ones
    sites: list[str] = field(default_factory=list)         # env/site validated
    releases: int = 0
    objects: int = 0
    changes: dict[str, ObjectChanges] = field(default_factory=dict)  # env/site -> objects a change alters
    unchecked: dict[str, int] = field(default_factory=dict)  # custom kinds no schema covers -> objects

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else 1 if self.errors else 0

    def as_dict(self) -> dict:
        return {"ok": self.exit_code == 0, "sites": self.sites, "releases": self.releases,
                "objects": self.objects, "unchecked": self.unchecked,
                "inputErrors": [p.as_dict() for p in self.problems],
                "violations": [asdict(f) for f in self.findings]}


@dataclass(frozen=True)
class Selection:
    """Which sites to validate; None everywhere means all of them."""
    site: str | None = None
    sites: frozenset[tuple[str, str]] | None = None   # (environment, site) pairs, e.g. from --changed-since

    def picks(self, env: Environment, site: Site) -> bool:
        return ((self.site is None or site.name == self.site)
                and (self.sites is None or (env.name, site.name) in self.sites))

    @property
    def everything(self) -> bool:
        return self.site is None and self.sites is None


def _render_findings(env: Environment, site: Site, release: Release, result) -> list[Finding]:
    out = []
    if result.error:
        out.append(Finding(env.name, site.name, "render", "error", result.error, release=release.name))
    for s in result.schema:
        out.append(Finding(env.name, site.name, "schema", "error", s.message, object=s.object,
                           release=release.name))
    return out


SiteHook = Callable[[Environment, Site, list[dict]], None]


def validate_environment(env: Environment, selection: Selection, report: Report, renderer,
                         today: dt.date, progress: Callable[[str], None] | None = None,
                         on_site: SiteHook | None = None) -> None:
    sites = [s for _, s in sorted(env.sites.items()) if selection.picks(env, s)]
    findings = gate.check_environment(env)
    base = gate.environment_context(env)
    plans = [(site, compose(env, site)) for site in sites]
    requests = ((env, r) for _, releases in plans for r in releases)
    results = iter(renderer.render_many(requests))
    for site, releases in plans:  # results arrive in request order: one site after the other
        objects_by_release = {}
        for release in releases:
            result = next(results)
            # helm checks the values against the chart's schema; when it refuses a release, find
            # the file and line of the offending value (bad input) before calling it a violation.
            problems = render.check_values(site, release) if result.error else []
            report.problems += problems
            if not problems:
                findings += _render_findings(env, site, release, result)
            objects_by_release[release.name] = result.objects
            report.releases += 1
            report.objects += len(result.objects)
        findings += gate.check_site(env, site, releases, objects_by_release, base)
        if on_site:
            on_site(env, site, [o for objs in objects_by_release.values() for o in objs])
        report.sites.append(f"{env.name}/{site.name}")
        if progress:
            progress(f"{env.name}/{site.name}")
    report.findings += gate.apply_waivers(env, findings, today, whole_environment=selection.everything)


def validate(envs: Iterable[Environment], selection: Selection = Selection(), renderer=None,
             today: dt.date | None = None, progress: Callable[[str], None] | None = None,
             on_site: SiteHook | None = None) -> Report:
    report = Report()
    renderer = renderer or render.default_renderer()
    with renderer:
        for env in envs:
            validate_environment(env, selection, report, renderer, today or dt.date.today(), progress, on_site)
    report.unchecked = dict(getattr(renderer, "unchecked", {}))
    return report


def validate_change(envs: list[Environment], rev: str, **kwargs) -> Report:
    """Validate only the sites a change since REV affects, and list the objects it alters on each."""
    from edgeai import changes, fleet
    from edgeai.problems import InputErrors

    affected = changes.impact(envs, changes.changed_files(rev))
    selection = Selection() if affected.everything else Selection(sites=frozenset(affected.sites))
    envs = [e for e in envs if affected.everything or any(name == e.name for name, _ in affected.sites)]
    after: dict[tuple[str, str], list[dict]] = {}
    report = validate(envs, selection, on_site=lambda e, s, objs: after.__setitem__((e.name, s.name), objs),
                      **kwargs)
    base_root = changes.snapshot(rev)
    try:
        try:
            base = {e.name: e for e in fleet.load_fleet(root=base_root / "environments")}
        except InputErrors:
            base = {}  # the base revision itself was broken: everything is new
        for (env_name, site_name), objects in after.items():
            before: list[dict] = []
            if env_name in base and site_name in base[env_name].sites:
                env, site = base[env_name], base[env_name].sites[site_name]
                for release in compose(env, site):
                    try:
                        before += render.render_release(env, release, root=base_root).objects
                    except helm.HelmError:  # a base release that did not render had no objects
                        continue
            diff = changes.diff_objects(before, objects)
            if diff:
                report.changes[f"{env_name}/{site_name}"] = diff
    finally:
        shutil.rmtree(base_root, ignore_errors=True)
    return report
