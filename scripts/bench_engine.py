#!/usr/bin/env python3
"""Preview of the gate's benchmark: render + validate every release of an environment with
edgeai-engine (one process: helm's library + kubeconform's validator) against the baseline of one
`helm template | kubeconform` pipeline per release. Prints releases/s and objects/s.

    .venv/bin/python scripts/bench_engine.py --env prod --repeat 20 --baseline-repeat 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from edgeai import engine, fleet, helm, paths, tools
from edgeai.composition import compose


def releases_of(env_name: str) -> tuple[fleet.Environment, list[engine.RenderRequest]]:
    [env] = fleet.load_fleet([env_name])
    requests = []
    for _, site in sorted(env.sites.items()):
        for r in compose(env, site):
            helm.build_dependencies(paths.ROOT / r.chart)
            requests.append(engine.RenderRequest(paths.ROOT / r.chart, r.name, r.namespace, r.values,
                                                 env.kubernetes_version))
    return env, requests


def peak_rss_mib(pid: int | None) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def bench_engine(requests: list[engine.RenderRequest], repeat: int, workers: int | None) -> None:
    binary = tools.engine_path()
    t0 = time.perf_counter()
    with engine.Engine(binary, workers=workers) as e:
        first = list(e.render_many(requests))
        cold = time.perf_counter() - t0
        objects = sum(len(r.objects) for r in first)
        statuses: dict[str, int] = {}
        for r in first:
            for f in r.schema:
                statuses[f.status] = statuses.get(f.status, 0) + 1
        errors = sum(1 for r in first if r.error)
        t1 = time.perf_counter()
        n = o = 0
        for r in e.render_many(req for _ in range(repeat) for req in requests):
            n += 1
            o += len(r.objects)
        warm = time.perf_counter() - t1
        rss = peak_rss_mib(e.pid)
    print(f"engine   first pass (start, load charts, compile schemas): {len(requests)} releases, {objects} objects "
          f"in {cold:.2f} s; helm errors {errors}; schema {statuses}")
    print(f"engine   steady: {n} releases ({repeat} x {len(requests)}), {o} objects in {warm:.2f} s: "
          f"{n / warm:,.0f} releases/s, {o / warm:,.0f} objects/s; peak RSS {rss:,.0f} MiB")


def bench_helm_only(requests: list[engine.RenderRequest], repeat: int, workers: int) -> None:
    """What edgeai.render does today: one `helm template` process per release, no schema validation."""
    def one(req: engine.RenderRequest) -> int:
        return len(helm.template(req.chart, req.release, req.namespace, req.values, kube_version=req.kube_version))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(one, [r for _ in range(repeat) for r in requests]))
    took = time.perf_counter() - t0
    print(f"helm template alone (no validation), {workers} at a time: {len(counts)} releases, {sum(counts)} objects "
          f"in {took:.2f} s: {len(counts) / took:,.1f} releases/s, {sum(counts) / took:,.0f} objects/s")


def definitions_cache(schema_dir: Path, minor: str) -> str:
    """kubeconform's -cache folder holding the shared definitions the schemas $ref (see tools/engine)."""
    cache = tempfile.mkdtemp(prefix="bench-kubeconform-")
    defs = schema_dir / f"v{minor}-local-strict" / "_definitions.json"
    with defs.open() as f:
        url = json.load(f)["$id"]
    os.symlink(defs, Path(cache) / hashlib.sha256(url.encode()).hexdigest())
    return cache


def baseline(env: fleet.Environment, requests: list[engine.RenderRequest], workers: int) -> dict:
    """The standard pipeline, one `helm template | kubeconform -strict` per release (`workers` at a
    time) with the same offline schemas as the engine: releases, objects, seconds, kubeconform totals."""
    helm_bin, kubeconform = tools.find("helm"), tools.find("kubeconform")
    major, minor_n = env.kubernetes_version.split(".")[:2]
    minor = f"{major}.{minor_n}.0"
    schema_dir = engine.kubernetes_schema_dir()
    cache = definitions_cache(schema_dir, minor)
    location = engine.default_schema_locations()[0]

    def one(req: engine.RenderRequest) -> tuple[int, dict[str, int]]:
        h = subprocess.Popen([helm_bin, "template", req.release, str(req.chart), "--namespace", req.namespace,
                              "--kube-version", req.kube_version or "", "--values", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        k = subprocess.Popen([kubeconform, "-strict", "-schema-location", location, "-cache", cache,
                              "-kubernetes-version", minor, "-ignore-missing-schemas", "-summary",
                              "-output", "json"],
                             stdin=h.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert h.stdin and h.stdout
        h.stdout.close()
        h.stdin.write(yaml.safe_dump(req.values).encode())
        h.stdin.close()
        out, _ = k.communicate()
        h.wait()
        summary = json.loads(out or b"{}").get("summary", {})
        return summary.get("valid", 0) + summary.get("invalid", 0) + summary.get("skipped", 0) + \
            summary.get("errors", 0), summary

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, requests))
    took = time.perf_counter() - t0
    totals: dict[str, int] = {}
    for _, s in results:
        for key in ("valid", "invalid", "errors", "skipped"):
            totals[key] = totals.get(key, 0) + s.get(key, 0)
    return {"releases": len(results), "objects": sum(c for c, _ in results), "seconds": took, "totals": totals}


def bench_baseline(env: fleet.Environment, requests: list[engine.RenderRequest], repeat: int,
                   workers: int) -> None:
    b = baseline(env, [r for _ in range(repeat) for r in requests], workers)
    n, o, took = b["releases"], b["objects"], b["seconds"]
    print(f"baseline helm template | kubeconform, {workers} pipelines at a time: {n} releases, {o} objects "
          f"in {took:.2f} s: {n / took:,.1f} releases/s, {o / took:,.0f} objects/s; kubeconform {b['totals']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="prod")
    parser.add_argument("--repeat", type=int, default=10, help="engine passes over the releases (steady state)")
    parser.add_argument("--baseline-repeat", type=int, default=1, help="baseline passes (0: skip it)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    env, requests = releases_of(args.env)
    print(f"{args.env}: {len(env.sites)} sites, {len(requests)} releases, Kubernetes {env.kubernetes_version}, "
          f"{os.cpu_count()} CPUs, {args.workers} workers")
    bench_engine(requests, args.repeat, args.workers)
    if args.baseline_repeat > 0:
        bench_helm_only(requests, args.baseline_repeat, args.workers)
        bench_baseline(env, requests, args.baseline_repeat, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
