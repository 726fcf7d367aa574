"""One composition: the site stack's root Application tracks the folder that holds exactly the releases
`edgeai render` prints and `edgeai validate` renders, for every site of every environment. (That each
file holds exactly what the gate renders is tests/gitops: `edgeai gitops render --check`.)"""

from __future__ import annotations

import contextlib
import io

import yaml

from edgeai import cli, composition, paths, render, validate


def _tracked_releases(run) -> list[str]:
    """Release names of the files in the folder the root Application tracks, in sync-wave order."""
    [app] = run.of_type("Application")
    folder = paths.ROOT / app.inputs["spec"]["source"]["path"]
    waves = {}
    for path in folder.glob("*.yaml"):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        waves[path.stem] = int(docs[0]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    return sorted(waves, key=lambda name: (waves[name], name))


def test_the_tracked_folder_holds_the_composition(site_case) -> None:
    env, site, run = site_case
    assert _tracked_releases(run) == [r.name for r in composition.compose(env, site)]


def test_the_tracked_folder_holds_what_edgeai_render_prints(site_case) -> None:
    env, site, run = site_case
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["render", "--env", env.name, "--site", site.name]) == 0
    [printed] = [d for d in yaml.safe_load_all(out.getvalue()) if d]
    assert [r["name"] for r in printed["releases"]] == _tracked_releases(run)


def test_validate_renders_the_same_releases(site_case) -> None:
    """Record the releases `edgeai validate` hands to its renderer for the site and compare them
    with the tracked folder."""
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
    assert [r.name for r in seen] == _tracked_releases(run)
