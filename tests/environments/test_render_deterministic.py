"""`edgeai render --manifests` is deterministic under concurrency.

Sites with two or more models used to fail now and then with `helm failed: lstat
.../charts/model-serving/tmpcharts-...`: the threads rendering each model's release all ran
`helm dependency build` on the one chart at once. Each round here starts from a fresh copy of the
charts whose library is not vendored yet, so every round races the build again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from edgeai import fleet, helm, paths, render
from edgeai.composition import compose

ROUNDS = 10


def fresh_checkout(tmp: Path) -> Path:
    """Charts and environments as a fresh clone has them: no vendored library chart."""
    shutil.copytree(paths.CHARTS, tmp / "charts", ignore=shutil.ignore_patterns("charts", "tmpcharts-*"))
    shutil.copytree(paths.ENVIRONMENTS, tmp / "environments")
    shutil.copy(paths.ROOT / "Pulumi.yaml", tmp / "Pulumi.yaml")
    (tmp / "scripts").mkdir()
    shutil.copy(paths.TOOL_VERSIONS, tmp / "scripts" / paths.TOOL_VERSIONS.name)
    return tmp


def multi_model_sites() -> list[tuple[str, str]]:
    return [(env.name, site.name) for env in fleet.load_fleet() for site in env.sites.values()
            if len(env.placed_models(site)) >= 2]


def test_the_shipped_fleet_has_sites_with_several_models() -> None:
    assert len(multi_model_sites()) >= 5


def test_ten_rounds_of_the_model_releases_of_a_site_render_identically(tmp_path: Path) -> None:
    """The releases that share a chart (one per model), all at once, ten times from scratch."""
    env_name, site_name = max(multi_model_sites(), key=lambda s: len(models_of(*s)))
    env = fleet.load_fleet([env_name])[0]
    site = env.sites[site_name]
    releases = [r for r in compose(env, site) if r.component == "model-serving"]
    assert len(releases) >= 3
    outputs = set()
    for n in range(ROUNDS):
        root = fresh_checkout(tmp_path / f"round-{n}")
        released = render.render_site(env, site, releases, workers=len(releases), root=root)
        outputs.add(yaml.safe_dump_all([o for r in released for o in r.objects], sort_keys=True))
    assert len(outputs) == 1


def models_of(env_name: str, site_name: str) -> list[str]:
    env = fleet.load_fleet([env_name])[0]
    return [m.name for m in env.placed_models(env.sites[site_name])]


def test_concurrent_cli_renders_are_identical(tmp_path: Path) -> None:
    """Two `edgeai render --manifests` processes at once for multi-model sites, on a checkout none
    has vendored: they share the build (a file lock) and print the same objects.
    (scripts/check-render-determinism.sh runs every site ten times; see docs/scanners.md.)"""
    root = fresh_checkout(tmp_path)
    environ = {**os.environ, "EDGEAI_ROOT": str(root)}
    sites = multi_model_sites()[:2]

    def start(env_name: str, site_name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "edgeai.cli", "render", "--env", env_name,
                                 "--site", site_name, "--manifests"], env=environ, cwd=root,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    for env_name, site_name in sites:
        procs = [start(env_name, site_name) for _ in range(2)]
        results = [p.communicate(timeout=300) for p in procs]
        for proc, (_, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, f"{env_name}/{site_name}: {err}"
        assert results[0][0] == results[1][0], f"{env_name}/{site_name} rendered differently"
        assert results[0][0].count("\nkind: ") >= 20


def test_a_vendored_library_newer_than_its_sources_is_not_rebuilt(tmp_path: Path) -> None:
    root = fresh_checkout(tmp_path)
    chart = root / "charts" / "kafka"
    helm.build_dependencies(chart)
    archive = next((chart / "charts").glob("edgeai-common-*.tgz"))
    built = archive.stat().st_mtime_ns
    helm._built.discard(chart.resolve())  # another process: it has not built this chart itself
    helm.build_dependencies(chart)
    assert archive.stat().st_mtime_ns == built
    # A change of the library makes the vendored copy stale: the next render rebuilds it.
    library = root / "charts" / "edgeai-common" / "Chart.yaml"
    os.utime(library, ns=(built + 10**9, built + 10**9))
    helm._built.discard(chart.resolve())
    helm.build_dependencies(chart)
    assert archive.stat().st_mtime_ns > built
