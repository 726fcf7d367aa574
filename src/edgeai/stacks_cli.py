"""`edgeai stacks --env E`: an environment's Pulumi stacks and their settings files.

Registered by edgeai.cli with `stacks_cli.add_parser(sub)`.
"""

from __future__ import annotations

import argparse

from edgeai import fleet, paths
from edgeai import stacks as naming
from edgeai.problems import display

EXIT_OK = 0


def cmd_stacks(args: argparse.Namespace) -> int:
    env = fleet.load_fleet([args.env], root=args.environments)[0]
    rows = []
    for name in naming.stacks_of(env):
        if args.no_create:
            path = naming.settings_path(name)
            state = "exists" if path.exists() else "missing"
        else:
            path, created = naming.ensure_settings(name)
            state = "created" if created else "exists"
        kind = "training" if name.is_training else "site"
        rows.append((str(name), kind, display(path), state))
    width = max(len(r[0]) for r in rows)
    for stack, kind, path, state in rows:
        print(f"{stack:<{width}}  {kind:<8}  {state:<7}  {path}")
    created = sum(r[3] == "created" for r in rows)
    hint = (f"; set the secrets each new file lists, e.g. pulumi config set --secret --stack "
            f"{rows[-1][0]} edgeai:redisPassword '<value>'") if created else ""
    print(f"{env.name}: {len(rows)} stack(s), {created} settings file(s) created in "
          f"{display(paths.ROOT / naming.SETTINGS_DIR)}{hint}")
    return EXIT_OK


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "stacks", help="list an environment's Pulumi stacks; create missing stack settings files",
        description=f"List the Pulumi stacks of an environment (<env>.{naming.TRAINING} and "
        "<env>.<site>) and create any missing stack settings file (stacks/config/Pulumi.<stack>.yaml): "
        "a minimal file whose comment names the secrets to set with `pulumi config set --secret`. "
        "An existing file is never overwritten.")
    p.add_argument("--env", required=True, help="environment (folder under environments/)")
    p.add_argument("--no-create", action="store_true", help="only list; create no file")
    p.set_defaults(func=cmd_stacks)
    return p
