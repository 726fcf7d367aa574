"""python -m edgeai.retrain: retrain models on landed data; register a version only when it is better.

    python -m edgeai.retrain --model-file environments/prod/models/sensor-anomaly.yaml \
        --landing s3://edgeai-prod-landing/edge/ [--tracking-uri http://mlflow:5000] [--baseline model.joblib]
    python -m edgeai.retrain --spec '{"name": ..., "framework": "sklearn", "retrain": {...}}' ...   (the CronJob)

Exit 0 whether or not a version was registered (a version that is not better is an outcome, not a
failure: the CronJob is not retried); 2 on bad input (unreadable data, too few labels, no version to
compare with, an unsupported framework, no tracking server).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from edgeai.retrain import dataset, frameworks, landing, registry, run
from edgeai.retrain.settings import ModelSpec

EXIT_OK, EXIT_INPUT = 0, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgeai.retrain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_argument_group("models (at least one)")
    which.add_argument("--model-file", action="append", type=Path, default=[], metavar="FILE",
                       help="a model file (environments/<env>/models/<name>.yaml)")
    which.add_argument("--spec", action="append", default=[], metavar="JSON",
                       help="a model as JSON: name, framework, retrain (the training stack's CronJob passes these)")
    p.add_argument("--landing", default=os.environ.get("LANDING_URI"), metavar="URI",
                   help="landed edge data: a directory or s3://bucket/prefix (default: $LANDING_URI)")
    p.add_argument("--tracking-uri", default=None, metavar="URL",
                   help="MLflow tracking server and registry (default: $MLFLOW_TRACKING_URI)")
    p.add_argument("--baseline", type=Path, metavar="PATH",
                   help="the current artifact, registered as version 1 when the registry has no version yet "
                        "(one model only)")
    p.add_argument("--baseline-only", action="store_true",
                   help="only register --baseline as version 1 when the registry has no version yet; train nothing")
    p.add_argument("--json", action="store_true", help="one JSON object per model on stdout")
    return p


def _specs(args: argparse.Namespace) -> list[ModelSpec]:
    docs = [yaml.safe_load(f.read_text()) for f in args.model_file] + [json.loads(s) for s in args.spec]
    return [ModelSpec.of(d) for d in docs]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        specs = _specs(args)
        if args.baseline and len(specs) != 1:
            raise ValueError("--baseline is the artifact of one model: name exactly one")
        if args.baseline_only:
            if not args.baseline:
                raise ValueError("--baseline-only needs --baseline")
            mv = run.register_baseline(registry.client(args.tracking_uri), specs[0], args.baseline)
            print(f"{specs[0].name}: version {mv.version} is the baseline")
            return EXIT_OK
        if not args.landing:
            raise ValueError("no landed data: pass --landing or set LANDING_URI")
        source = landing.source(args.landing)
        c = registry.client(args.tracking_uri)
    except (OSError, ValueError, KeyError, registry.RegistryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT
    if not specs:
        print("no model to retrain (no --model-file or --spec)")
        return EXIT_OK
    failed = 0
    for spec in specs:
        try:
            outcome = run.retrain(spec, source, c, baseline=args.baseline, landing_uri=args.landing)
        except (dataset.NotEnoughData, run.NoBaseline, frameworks.UnsupportedFramework, landing.BadRecord,
                FileNotFoundError, ValueError) as err:
            failed += 1
            print(f"error: {spec.name}: {err}; nothing registered", file=sys.stderr)
            continue
        print(json.dumps(outcome.as_dict()) if args.json else outcome.sentence())
    return EXIT_INPUT if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
