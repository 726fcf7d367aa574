#!/usr/bin/env python3
"""Benchmark of the gate (`edgeai validate`) on synthetic fleets, with the standard pipeline beside it.

For each fleet size (default 1,000 and 10,000 sites) it writes a synthetic environment (a realistic
mix: 1-node shops, 3-node plants, GPU sites, 12 regions, 5 models with a canary and a GPU model),
validates it fully (schemas, cross-file rules, values against chart schemas, every release rendered,
every object against the Kubernetes schema, every policy rule) and prints wall time, sites/s and
peak RSS (this process plus its children, i.e. the render engine).

Baseline, in the same run: the per-release pipeline `helm template | kubeconform` (same offline
schemas) on a sample of the same fleet's releases, reported as sites/s; it renders and checks
schemas only, no cross-file rules and no policies.

    .venv/bin/python scripts/bench_gate.py [--sites 1000 10000] [--baseline-sites 40]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_engine  # this folder: the baseline pipeline, shared with the engine's own benchmark
import yaml

from edgeai import engine, fleet, paths
from edgeai.composition import compose
from edgeai.validate import Selection, validate
from policies.engine import all_rules

REGIONS = [f"{area}-{n}" for area in ("eu", "us", "ap") for n in ("north", "south", "east", "west")]
SHAPES = [  # (share, nodes, cpu per node, memory per node, gpus per node)
    (0.55, 1, 8, "32Gi", 0),
    (0.15, 1, 4, "16Gi", 0),
    (0.20, 3, 16, "64Gi", 0),
    (0.07, 3, 16, "64Gi", 1),
    (0.03, 1, 16, "64Gi", 1),
]


def write_fleet(root: Path, sites: int, seed: int = 7) -> None:
    """environments/bench/ with `sites` site files and five models."""
    rng = random.Random(seed)
    env = root / "bench"
    (env / "sites").mkdir(parents=True)
    (env / "models").mkdir()
    base = yaml.safe_load((paths.ENVIRONMENTS / "prod" / "environment.yaml").read_text())
    base["name"] = "bench"
    (env / "environment.yaml").write_text("# yaml-language-server: $schema=../schema/environment.schema.json\n"
                                          + yaml.safe_dump(base, sort_keys=False))
    shares = [s[0] for s in SHAPES]
    for i in range(sites):
        _, count, cpu, memory, gpus = rng.choices(SHAPES, shares)[0]
        region = REGIONS[i % len(REGIONS)]
        nodes = {"count": count, "cpu": cpu, "memory": memory}
        if gpus:
            nodes["gpu"] = {"count": gpus, "product": "NVIDIA-T4"}
        doc = {"name": f"site-{i:05d}", "region": region, "nodes": nodes, "storageClass": "local-path",
               "apiServerCIDR": f"10.{i // 250 % 250}.{i % 250}.1/32"}
        (env / "sites" / f"site-{i:05d}.yaml").write_text(
            "# yaml-language-server: $schema=../../schema/site.schema.json\n" + yaml.safe_dump(doc, sort_keys=False))
    models = [
        {"name": "sensor-anomaly", "framework": "sklearn", "uri": "s3://m/sensor-anomaly/v3", "regions": REGIONS},
        {"name": "demand-forecast", "framework": "xgboost", "uri": "s3://m/demand/v12", "regions": REGIONS[::2],
         "canary": {"uri": "s3://m/demand/v13", "weight": 10}},
        {"name": "defect-vision", "framework": "onnx", "uri": "s3://m/defect/v7", "regions": REGIONS, "gpu": 1},
        {"name": "ticket-intent", "framework": "huggingface", "uri": "s3://m/intent/v2", "regions": REGIONS[:4]},
        {"name": "energy-lgbm", "framework": "lightgbm", "uri": "s3://m/energy/v5", "regions": REGIONS[4:8]},
    ]
    for m in models:
        (env / "models" / f"{m['name']}.yaml").write_text(
            "# yaml-language-server: $schema=../../schema/model.schema.json\n" + yaml.safe_dump(m, sort_keys=False))


def peak_rss_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def run_gate(root: Path) -> dict:
    start = time.perf_counter()
    envs = fleet.load_fleet(root=root)
    loaded = time.perf_counter()
    report = validate(envs, Selection())
    end = time.perf_counter()
    own, children = peak_rss_mib()
    return {"sites": len(report.sites), "releases": report.releases, "objects": report.objects,
            "load_s": loaded - start, "wall_s": end - start, "errors": len(report.errors),
            "problems": len(report.problems), "rss_mib": own, "child_rss_mib": children}


def run_baseline(root: Path, sample: int) -> dict:
    """`helm template | kubeconform` per release (2 pipelines at a time) on the first `sample` sites."""
    [env] = fleet.load_fleet(root=root)
    requests = []
    for name in sorted(env.sites)[:sample]:
        for r in compose(env, env.sites[name]):
            requests.append(engine.RenderRequest(paths.ROOT / r.chart, r.name, r.namespace, r.values,
                                                 env.kubernetes_version))
    result = bench_engine.baseline(env, requests, workers=os.cpu_count() or 2)
    assert result["totals"].get("invalid", 0) == result["totals"].get("errors", 0) == 0, result["totals"]
    return {"sites": sample, "releases": result["releases"], "objects": result["objects"],
            "wall_s": result["seconds"]}


def run_changed_since() -> float:
    """Seconds for `edgeai validate --changed-since HEAD` (a whole CLI run) after editing one site
    file of a clone of this repository: what a pull request touching one site costs in CI."""
    clone = Path(tempfile.mkdtemp(prefix="edgeai-clone-")) / "repo"
    try:
        subprocess.run(["git", "clone", "-q", str(paths.ROOT), str(clone)], check=True)
        site = clone / "environments" / "prod" / "sites" / "fra-store-001.yaml"
        site.write_text(site.read_text().replace("cpu: 8", "cpu: 12"))
        cmd = [sys.executable, "-m", "edgeai.cli", "validate", "--changed-since", "HEAD"]
        env = {**os.environ, "EDGEAI_ROOT": str(clone)}
        subprocess.run(cmd, cwd=clone, env=env, capture_output=True, check=True)  # warm: vendors chart deps
        start = time.perf_counter()
        out = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, check=True).stdout
        elapsed = time.perf_counter() - start
        assert "1 site(s)" in out, out
        return elapsed
    finally:
        shutil.rmtree(clone.parent, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--baseline-sites", type=int, default=3,
                        help="sites run through the baseline pipeline, once: it costs ~2 s a release, so its "
                             "time for a whole fleet is extrapolated from these (same fleet mix)")
    args = parser.parse_args()
    print(f"{'fleet':>7} {'pipeline':<34} {'wall s':>8} {'sites/s':>9} {'objects':>9} {'peak RSS MiB':>13}")
    base = None
    for n in args.sites:
        root = Path(tempfile.mkdtemp(prefix="edgeai-bench-"))
        try:
            write_fleet(root, n)
            gate = run_gate(root)
            assert gate["problems"] == 0 and gate["errors"] == 0, gate
            rss = f"{gate['rss_mib']:.0f}+{gate['child_rss_mib']:.0f}"
            print(f"{n:>7} {'edgeai validate (all checks)':<34} {gate['wall_s']:>8.1f} "
                  f"{gate['sites'] / gate['wall_s']:>9.1f} {gate['objects']:>9} {rss:>13}", flush=True)
            base = base or run_baseline(root, args.baseline_sites)
            rate = base["sites"] / base["wall_s"]
            print(f"{n:>7} {'helm template | kubeconform':<34} {n / rate:>8.0f} {rate:>9.3f} "
                  f"{base['objects'] * n // base['sites']:>9} {'(' + str(base['sites']) + ' measured)':>13}",
                  flush=True)
            print(f"{'':>7} speed-up {gate['sites'] / gate['wall_s'] / rate:.0f}x while also running the "
                  f"cross-file rules and {len(all_rules())} policies; loading the fleet took "
                  f"{gate['load_s']:.1f}s of the gate's wall time", flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"one-site change, `edgeai validate --changed-since HEAD` (whole CLI run): "
          f"{run_changed_since():.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
