"""The `edgeai` command: render, lint and validate the fleet.

Exit codes: 0 clean, 1 violations, 2 usage or input errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from edgeai import catalog, cluster_cli, fleet, helm, images_cli, models_cli, paths, render, stacks_cli, tools
from edgeai.composition import compose
from edgeai.engine import EngineError
from edgeai.gitops import cli as gitops_cli
from edgeai.problems import InputErrors, Problem

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT = 0, 1, 2


def _dump(docs: Sequence[object]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=120)


def _site(args: argparse.Namespace):
    env_name, site_name = args.env, args.site
    env = fleet.load_fleet([env_name], root=args.environments)[0]
    if site_name not in env.sites:
        raise InputErrors([Problem(env.directory / "sites" / f"{site_name}.yaml", None, (),
                                   f"no site '{site_name}' in environment '{env.name}'",
                                   f"sites: {', '.join(sorted(env.sites))}")])
    return env, env.sites[site_name]


def cmd_render(args: argparse.Namespace) -> int:
    env, site = _site(args)
    releases = compose(env, site)
    if args.manifests:
        problems = [p for r in releases for p in render.check_values(site, r)]
        if problems:
            raise InputErrors(problems)
        objects = [o for rr in render.render_site(env, site, releases) for o in rr.objects]
        sys.stdout.write(_dump(objects))
        return EXIT_OK
    doc = {
        "environment": env.name,
        "site": site.name,
        "region": site.region,
        "placement": [m.name for m in env.placed_models(site)],
        "releases": [
            {"name": r.name, "component": r.component, "chart": r.chart, "namespace": r.namespace,
             "syncWave": r.sync_wave,
             "values": render.merged_values(r) if args.with_chart_defaults else r.values}
            for r in releases
        ],
    }
    table = "\n".join(f"#   wave {r.sync_wave}  {r.name:<24} {r.chart:<22} {r.namespace}" for r in releases)
    sys.stdout.write(f"# {env.name}/{site.name}: {len(releases)} releases\n{table}\n{_dump([doc])}")
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    failed = 0
    for chart in args.chart or catalog.CHARTS:
        try:
            helm.lint(paths.CHARTS / chart)
            print(f"ok      charts/{chart}")
        except helm.HelmError as err:
            failed += 1
            print(f"FAILED  charts/{chart}\n{err}")
    return EXIT_VIOLATIONS if failed else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from edgeai import report as output
    from edgeai.changes import GitError
    from edgeai.validate import Report, Selection, validate, validate_change

    try:
        envs = fleet.load_fleet(args.env or None, root=args.environments)
    except InputErrors as err:
        result = Report(problems=err.problems)
    else:
        selection = Selection(site=args.site)
        total = sum(1 for e in envs for s in e.sites.values() if selection.picks(e, s))
        with output.Progress(total, enabled=not args.json and sys.stderr.isatty()) as progress:
            if args.changed_since:
                try:
                    result = validate_change(envs, args.changed_since, progress=progress.step)
                except GitError as err:
                    print(f"error: {err}", file=sys.stderr)
                    return EXIT_INPUT
            else:
                result = validate(envs, selection, progress=progress.step)
    if args.junit:
        output.write_atomically(args.junit, output.junit(result))
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    elif args.markdown:
        sys.stdout.write(output.markdown(result))
    else:
        for problem in result.problems:
            print(f"error: {problem}", file=sys.stderr)
        sys.stdout.write(output.table(result))
    return result.exit_code


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="edgeai", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--environments", type=Path, default=None, metavar="DIR",
                     help="folder of environments (default: environments/ of this repository)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("render", help="print a site's releases and values, or its Kubernetes objects",
                       description="Print the releases a site runs (component, chart, namespace, sync "
                       "wave) with the values each Argo CD Application carries, or with --manifests "
                       "every Kubernetes object as Argo CD would apply it.")
    p.add_argument("--env", required=True, help="environment (folder under environments/)")
    p.add_argument("--site", required=True, help="site name")
    p.add_argument("--manifests", action="store_true", help="render with helm; print multi-document YAML")
    p.add_argument("--with-chart-defaults", action="store_true",
                   help="show values merged over each chart's own defaults")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("lint", help="helm lint --strict every chart",
                       description="Run `helm lint --strict` on every component chart.")
    p.add_argument("--chart", action="append", choices=catalog.CHARTS, help="only this chart (repeatable)")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("validate", help="check environment files and render every site with helm",
                       description="Check every environment file against its schema and the "
                       "cross-file rules, render every release of every site with helm, and check "
                       "that each site's workloads fit it. Exit 0 clean, 1 violations, 2 input errors.")
    p.add_argument("--env", action="append", help="only this environment (repeatable; default all)")
    p.add_argument("--site", help="only this site")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    out.add_argument("--markdown", action="store_true", help="pull-request summary (Markdown) on stdout")
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report for CI")
    p.add_argument("--changed-since", metavar="REV",
                   help="validate only the sites a change since git REV affects, and list the objects "
                        "it alters (a chart: every site using it; a site file: that site; an "
                        "environment file: its sites)")
    p.set_defaults(func=cmd_validate)

    stacks_cli.add_parser(sub)
    cluster_cli.add_parsers(sub)
    images_cli.add_parsers(sub)
    gitops_cli.add_parsers(sub)
    models_cli.add_parsers(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except InputErrors as err:
        for problem in err.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(err.problems)} input error(s)", file=sys.stderr)
        return EXIT_INPUT
    except tools.ToolMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except helm.HelmError as err:  # a tool failed: not a verdict on the fleet (exit 1 means violations)
        print(f"error: helm failed:\n{err}", file=sys.stderr)
        return EXIT_INPUT
    except EngineError as err:
        print(f"error: the render engine failed:\n{err}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
