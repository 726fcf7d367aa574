"""`edgeai gitops render|diff` and `edgeai status`. Registered by edgeai.cli with `add_parsers(sub)`."""

from __future__ import annotations

import argparse
import sys

from edgeai import fleet
from edgeai.gitops import DEPLOY_DIR, tree

EXIT_OK, EXIT_STALE, EXIT_INPUT = 0, 1, 2


def cmd_render(args: argparse.Namespace) -> int:
    envs = fleet.load_fleet(args.env or None, root=args.environments)
    try:
        p = tree.plan(envs, site=args.site)
    except tree.RenderError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT
    sites = len(p.rendered)
    if args.check:
        if p.current:
            print(f"ok: {DEPLOY_DIR}/ is current ({sites} site(s))")
            return EXIT_OK
        scope = "".join(f" --env {e}" for e in args.env or []) + (f" --site {args.site}" if args.site else "")
        for where in p.stale:
            print(f"stale    {DEPLOY_DIR}/{where}/")
        for where in p.removed:
            print(f"removed  {DEPLOY_DIR}/{where}/ (the site no longer exists)")
        print(f"FAILED: {len(p.stale) + len(p.removed)} of {sites} site folder(s) differ from what "
              f"environments/ and charts/ render; refresh with `{tree.REFRESH}{scope}` and commit {DEPLOY_DIR}/",
              file=sys.stderr)
        return EXIT_STALE
    written = tree.write(p)
    for where in written:
        print(f"wrote    {DEPLOY_DIR}/{where}/" if where in p.stale else f"removed  {DEPLOY_DIR}/{where}/")
    print(f"ok: {sites} site(s) rendered, {len(written)} changed")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from edgeai.changes import GitError
    from edgeai.gitops import diff

    try:
        changes = diff.tree_changes(args.base, args.head)
    except GitError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT
    if args.env:
        changes = {k: v for k, v in changes.items() if k.split("/")[0] in args.env}
    lines = diff.markdown(changes, f"What {args.head or 'this change'} does to the sites "
                                   f"(rendered {DEPLOY_DIR}/ against {args.base})")
    sys.stdout.write("\n".join(lines) + "\n" if lines else f"no site changes ({DEPLOY_DIR}/ against {args.base})\n")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from edgeai.gitops import status

    return status.main(args)


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser("gitops", help="the rendered desired state each site's Argo CD pulls (deploy/)",
                              description="Each site's Argo CD applies deploy/<env>/<site>/ at the revision "
                              "its environment pins (docs/gitops.md).")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser("render", help="write deploy/<env>/<site>/ for every site (or --check it)",
                           description="Render every site exactly as the gate does and write one file "
                           "per release under deploy/<env>/<site>/, atomically. --check writes nothing "
                           "and exits 1 listing the stale sites.")
    q.add_argument("--env", action="append", help="only this environment (repeatable; default all)")
    q.add_argument("--site", help="only this site")
    q.add_argument("--check", action="store_true", help="exit 1 when deploy/ is not what would be written")
    q.set_defaults(func=cmd_render)
    q = actions.add_parser("diff", help="field-level changes of every site's objects since a revision",
                           description="Compare deploy/ at --base with the working tree's (or --head): "
                           "per site, every object added, removed or modified and the fields that change, "
                           "sites that change alike grouped (Markdown, for the pull request).")
    q.add_argument("--base", required=True, metavar="REV", help="git revision to compare with (e.g. origin/main)")
    q.add_argument("--head", metavar="REV", help="git revision instead of the working tree")
    q.add_argument("--env", action="append", help="only this environment (repeatable)")
    q.set_defaults(func=cmd_diff)

    p = subparsers.add_parser("status", help="what each site's Argo CD has synced: revision, sync, health, drift",
                              description="Per site, read from its Argo CD: the revision synced, sync and "
                              "health of each Application, objects out of sync (drift) and what is pending.")
    p.add_argument("--env", default="local", help="environment (default local)")
    p.add_argument("--site", help="only this site")
    p.add_argument("--kubeconfig", help="kubeconfig of the site (default: the local cluster of the site)")
    p.add_argument("--json", action="store_true", help="machine-readable")
    p.set_defaults(func=cmd_status)
