"""`edgeai validate`: every environment file checked, every release rendered, the site's fit checked.

The full policy catalog is a separate layer (policies/); this module is the part every
render needs: inputs that parse and agree, charts that render, workloads that fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from edgeai import capacity, helm, render
from edgeai.composition import compose, settings
from edgeai.fleet import Environment, Site
from edgeai.problems import Problem, display


@dataclass(frozen=True)
class Finding:
    """Something wrong with what a site would run (exit 1), as opposed to bad input (exit 2)."""
    environment: str
    site: str
    check: str
    message: str
    release: str = ""
    file: str = ""
    line: int | None = None


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)  # bad input
    findings: list[Finding] = field(default_factory=list)  # violations
    sites: int = 0
    releases: int = 0
    objects: int = 0

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else 1 if self.findings else 0

    def as_dict(self) -> dict:
        return {"ok": self.exit_code == 0, "sites": self.sites, "releases": self.releases,
                "objects": self.objects, "inputErrors": [p.as_dict() for p in self.problems],
                "violations": [asdict(f) for f in self.findings]}


def check_fit(env: Environment, site: Site, objects: list[dict]) -> list[Finding]:
    """Requests within the site's capacity minus headroom; GPUs only where they exist."""
    demand = capacity.site_demand(objects, site.node_count)
    usable = 1 - settings()["capacityHeadroomPercent"] / 100
    where = {"file": display(site.file.path), "line": site.file.line(("nodes",))}
    findings = []
    if demand.cpu > site.cpu_total * usable:
        findings.append(Finding(env.name, site.name, "capacity", f"workloads request {demand.cpu:.2f} CPU; "
                                f"the site offers {site.cpu_total} with {usable:.0%} usable", **where))
    memory_gi = demand.memory / 2**30
    if memory_gi > site.memory_gi_total * usable:
        findings.append(Finding(env.name, site.name, "capacity", f"workloads request {memory_gi:.1f}Gi "
                                f"memory; the site offers {site.memory_gi_total}Gi with {usable:.0%} usable",
                                **where))
    for obj in objects:
        spec = capacity.pod_spec(obj)
        gpus = capacity.pod_demand(spec).gpu if spec else 0
        if gpus > site.gpus_per_node:
            findings.append(Finding(env.name, site.name, "gpu", f"{obj['kind']} {obj['metadata']['name']} "
                                    f"asks {gpus} GPU(s) per pod; nodes have {site.gpus_per_node}", **where))
    return findings


def validate_site(env: Environment, site: Site, report: Report) -> None:
    releases = compose(env, site)
    value_problems = [p for r in releases for p in render.check_values(site, r)]
    report.problems += value_problems
    report.sites += 1
    if value_problems:
        return
    objects = []
    for release in releases:
        try:
            rendered = render.render_release(env, release)
        except helm.HelmError as err:
            report.findings.append(Finding(env.name, site.name, "render", str(err), release.name))
            continue
        objects += rendered.objects
        report.releases += 1
    report.objects += len(objects)
    report.findings += check_fit(env, site, objects)


def validate(envs: list[Environment], site: str | None = None,
             progress: Callable[[str], None] | None = None) -> Report:
    report = Report()
    for env in envs:
        for name, s in sorted(env.sites.items()):
            if site and name != site:
                continue
            if progress:
                progress(f"{env.name}/{name}")
            validate_site(env, s, report)
    return report
