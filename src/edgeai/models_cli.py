"""`edgeai models promote`: a registered model version into the fleet, as a reviewed change on a branch.
Registered by edgeai.cli with `add_parsers(sub)`."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT = 0, 1, 2


def _registry(args: argparse.Namespace):
    from edgeai.models import promote
    from edgeai.retrain import registry
    try:
        return registry.client(args.tracking_uri)
    except registry.RegistryError as err:
        raise promote.PromoteError(str(err)) from None
    except ImportError as err:
        raise promote.PromoteError(f"the registry needs MLflow ({err}): pip install '.[retrain]'") from None


def cmd_promote(args: argparse.Namespace) -> int:
    from edgeai.models import promote

    root = promote.root()
    try:
        if args.complete or args.rollback:
            if args.version or args.weight is not None:
                raise promote.PromoteError("--complete and --rollback take neither --version nor --weight")
            # Completing a registered canary reads its training distribution from the registry.
            client = (_registry(args) if args.complete and promote.canary_version(root, args.env, args.model)
                      else None)
            change = promote.plan_end(root, args.env, args.model, complete=args.complete, client=client)
        else:
            client = _registry(args)
            weight = promote.DEFAULT_WEIGHT if args.weight is None else args.weight
            change = promote.plan_canary(root, args.env, args.model, args.version, weight, client,
                                         args.artifacts_destination)
        result = promote.apply(root, change)
    except promote.PromoteError as err:
        print(f"error: {err}; nothing written", file=sys.stderr)
        return EXIT_INPUT
    except promote.GateFailed as err:
        print(f"error: {err}\nno branch made", file=sys.stderr)
        return EXIT_VIOLATIONS
    title, _, body = change.message.partition("\n")
    print(f"## {title}\n")
    if body.strip():
        print(f"{body.strip()}\n")
    print(f"Branch `{result.branch}` ({result.commit[:12]}, from {result.base[:12]}).\n")
    print(f"### The gate (edgeai validate --env {change.env})\n\n```\n{result.gate}\n```\n")
    print(result.diff)
    print(f"\nnext: git push origin {result.branch} and open a pull request with the text above", file=sys.stderr)
    return EXIT_OK


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser("models", help="registered model versions into the fleet (the retrain loop)",
                              description="The retrain loop's reviewed half: python -m edgeai.retrain registers "
                              "better versions in MLflow; these commands turn one into a change of "
                              "environments/ (docs/retrain.md).")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser(
        "promote", help="a registered version as the model's canary (or --complete / --rollback it), on a branch",
        description="Write a registered version's artifact as the model's canary at --weight percent "
        "(--complete: the canary becomes the stable uri; --rollback: the canary is removed), re-render "
        "deploy/, run the gate and commit both on a new branch promote/<model>-v<N>, from HEAD, without "
        "touching the working tree. Prints the gate's summary and the gitops diff for the pull request. "
        "Exit 0 done, 1 the gate rejects the change, 2 bad input (nothing written).")
    q.add_argument("model", metavar="MODEL", help="model name (environments/<env>/models/<MODEL>.yaml)")
    q.add_argument("--env", required=True, help="environment")
    q.add_argument("--version", help="registered version (default: the newest)")
    q.add_argument("--weight", type=int, help="percent of requests for the canary (default 10)")
    end = q.add_mutually_exclusive_group()
    end.add_argument("--complete", action="store_true", help="the canary becomes the stable version")
    end.add_argument("--rollback", action="store_true", help="remove the canary")
    q.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"), metavar="URL",
                   help="MLflow tracking server and registry (default: $MLFLOW_TRACKING_URI)")
    q.add_argument("--artifacts-destination", default=os.environ.get("EDGEAI_MLFLOW_ARTIFACTS"), metavar="URI",
                   help="where the tracking server stores artifacts, as sites fetch them (default: "
                        "$EDGEAI_MLFLOW_ARTIFACTS, else s3://<the environment's bucket>/mlflow)")
    q.set_defaults(func=cmd_promote)
