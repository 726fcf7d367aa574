"""`edgeai images list|build|push`: the images an environment needs, built here, pushed to a registry."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edgeai.images.needed import environment_images

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT = 0, 1, 2


def _rows(env_name: str, environments) -> list[dict[str, Any]]:
    from edgeai.images.definitions import definition_for
    rows = []
    for ref, sites in environment_images(env_name, environments).items():
        d = definition_for(ref)
        rows.append({"image": ref, "build": f"images/{d.name}" if d else None, "sites": len(sites)})
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    rows = _rows(args.env, args.environments)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max((len(r["image"]) for r in rows), default=5)
        print(f"{'IMAGE':<{width}}  {'SITES':>5}  BUILT FROM")
        for r in rows:
            print(f"{r['image']:<{width}}  {r['sites']:>5}  {r['build'] or '- (no build definition here)'}")
    missing = [r["image"] for r in rows if not r["build"]]
    if missing:
        print(f"{len(missing)} image(s) of {args.env} have no build definition under images/", file=sys.stderr)
    return EXIT_OK


def _wanted(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(definitions to build, images without one) for the command's --env or names."""
    if not args.env:
        return list(args.names), []
    rows = _rows(args.env, args.environments)
    names = sorted({r["build"].split("/", 1)[1] for r in rows if r["build"]})
    return names, [r["image"] for r in rows if not r["build"]]


def _missing(verb: str, missing: list[str], allowed: bool) -> int:
    """Say which of the environment's images have no build definition; a failure unless allowed."""
    for ref in missing:
        print(f"not {verb}: {ref} (no build definition under images/)", file=sys.stderr)
    return EXIT_VIOLATIONS if missing and not allowed else EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from edgeai.images.build import BuildError, build_all
    names, missing = _wanted(args)
    try:
        built = build_all(names, force=args.force)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_VIOLATIONS
    print(f"{len(built)} image(s) ready")
    return _missing("built", missing, args.allow_missing)


def cmd_push(args: argparse.Namespace) -> int:
    from edgeai.images import registry
    from edgeai.images.build import BuildError, build_all
    from edgeai.images.definitions import DEFAULT_REGISTRY, split_ref
    names, missing = _wanted(args)
    try:
        target = args.registry or registry.up()
        built = build_all(names)
        refs = {}
        for ref in built.values():
            _, repository, tag = split_ref(ref)
            refs[ref] = f"{target}/{repository}:{tag}"
        registry.push(refs)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_VIOLATIONS
    print(f"{len(refs)} image(s) in {target} (built as {DEFAULT_REGISTRY}/...)")
    return _missing("pushed", missing, args.allow_missing)


def add_parsers(sub) -> None:
    images = sub.add_parser("images", help="list, build and push the images an environment runs",
                            description="Every image the platform runs is built here from Debian packages, "
                            "Maven Central, PyPI and Go modules (images/); see images/README.md.")
    cmds = images.add_subparsers(dest="images_command", required=True, metavar="COMMAND")
    p = cmds.add_parser("list", help="every image a whole environment needs (all its sites, rendered)")
    p.add_argument("--env", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    for name, func, text in (("build", cmd_build, "build images (cached by content hash)"),
                             ("push", cmd_push, "build and push images to a registry")):
        p = cmds.add_parser(name, help=text)
        p.add_argument("names", nargs="*", help="image definitions (folders of images/); default: all")
        p.add_argument("--env", help="the images this environment needs instead of names")
        p.add_argument("--allow-missing", action="store_true",
                       help="exit 0 even when some of the environment's images have no build definition")
        if name == "build":
            p.add_argument("--force", action="store_true", help="rebuild even when cached")
        else:
            p.add_argument("--registry", help="host[:port] to push to (default: the site registry, started if needed)")
        p.set_defaults(func=func)
