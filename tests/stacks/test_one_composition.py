"""One composition: the Applications the site stack creates carry exactly the releases and values
that `edgeai render` prints and `edgeai validate` renders, for every site of every environment."""

from __future__ import annotations

import contextlib
import io

import yaml

from edgeai import catalog, cli, composition, paths, render, validate
from edgeai.layers import deep_merge
from stacks.edge_site import argocd


def _wave_order(app) -> tuple[int, str]:
    return int(app.metadata["annotations"][catalog.SYNC_WAVE_ANNOTATION]), app.k8s_name


def _applications(run) -> dict[str, dict]:
    """Application specs in sync-wave order (the mocks register resources in whatever order their
    inputs resolve, so registration order says nothing)."""
    return {a.k8s_name: a.inputs["spec"] for a in sorted(run.of_type("Application"), key=_wave_order)}


def test_applications_equal_the_composition(site_case) -> None:
    env, site, run = site_case
    releases = composition.compose(env, site)
    apps = _applications(run)
    assert list(apps) == [r.name for r in releases]   # same releases, same (sync-wave) order
    for release in releases:
        spec = apps[release.name]
        assert spec["source"]["path"] == release.chart
        assert spec["source"]["helm"]["releaseName"] == release.name
        assert spec["source"]["helm"]["valuesObject"] == argocd.helm_values(release.values)
        assert spec["destination"]["namespace"] == release.namespace
        assert spec == argocd.application_spec(env, release)


def _chart_defaults(chart: str) -> dict:
    values = paths.ROOT / chart / "values.yaml"
    return (yaml.safe_load(values.read_text()) or {}) if values.is_file() else {}


def test_helm_sees_the_same_values_as_the_composition(site_case) -> None:
    """Pulumi cannot carry a null inside valuesObject; for Helm a null deletes a chart default.
    Merged over its chart's defaults (Helm's coalescing, edgeai.layers.deep_merge), every
    Application's values equal the composition's, up to keys whose value is null either way
    (a template reads a missing key and a null one alike)."""
    env, site, run = site_case
    apps = _applications(run)
    for release in composition.compose(env, site):
        defaults = _chart_defaults(release.chart)
        sent = apps[release.name]["source"]["helm"]["valuesObject"]
        assert (argocd.helm_values(deep_merge(defaults, sent))
                == argocd.helm_values(deep_merge(defaults, release.values))), release.name


def test_applications_equal_what_edgeai_render_prints(site_case) -> None:
    env, site, run = site_case
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["render", "--env", env.name, "--site", site.name]) == 0
    [printed] = [d for d in yaml.safe_load_all(out.getvalue()) if d]
    apps = _applications(run)
    assert [r["name"] for r in printed["releases"]] == list(apps)
    for r in printed["releases"]:
        spec = apps[r["name"]]
        assert (spec["source"]["path"], spec["destination"]["namespace"]) == (r["chart"], r["namespace"])
        assert spec["source"]["helm"]["valuesObject"] == argocd.helm_values(r["values"])


def test_validate_renders_the_same_releases(site_case) -> None:
    """Record the releases `edgeai validate` hands to its renderer for the site and compare them
    with the Applications."""
    env, site, run = site_case
    seen = []

    class Recording:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def render_many(self, requests):
            for _, release in requests:
                seen.append(release)
                yield render.RenderResult([])

    validate.validate([env], validate.Selection(site=site.name), renderer=Recording())
    apps = _applications(run)
    assert [r.name for r in seen] == list(apps)
    assert all(apps[r.name]["source"]["helm"]["valuesObject"] == argocd.helm_values(r.values) for r in seen)
