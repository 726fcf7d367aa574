"""The rendered desired state in Git (deploy/): current, deterministic, written atomically, no Secrets,
sync waves carried by annotations; and the field-level summary of what a change does to the sites."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from edgeai import catalog, fleet, paths
from edgeai.changes import ObjectChanges, diff_objects
from edgeai.composition import compose
from edgeai.gitops import diff, tree

REFRESH = "edgeai gitops render"


def test_the_committed_tree_is_current() -> None:
    """CI fails when deploy/ is not what environments/ and charts/ render: whoever changes a chart,
    a model or a site file runs `.venv/bin/edgeai gitops render` and commits deploy/ with it."""
    proc = subprocess.run([sys.executable, "-m", "edgeai.cli", "gitops", "render", "--check"], cwd=paths.ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (
        f"deploy/ is stale: run `.venv/bin/{REFRESH}` and commit deploy/\n{proc.stdout}{proc.stderr}")


@pytest.fixture(scope="module")
def local():
    env = fleet.load_fleet(["local"])[0]
    return env, tree.plan([env], root=paths.ROOT)


def test_one_file_per_release_every_object_with_its_release_wave(local) -> None:
    env, plan = local
    site = env.sites["local"]
    files = plan.rendered[("local", "local")]
    releases = compose(env, site)
    assert sorted(files) == sorted(f"{r.name}.yaml" for r in releases)
    for r in releases:
        docs = [d for d in yaml.safe_load_all(files[f"{r.name}.yaml"]) if d]
        assert docs, r.name
        assert all(d["metadata"]["annotations"][catalog.SYNC_WAVE_ANNOTATION] == str(r.sync_wave) for d in docs)
        assert all(d["kind"] != "Secret" for d in docs)
        refs = [f"{d['kind']}/{d['metadata'].get('namespace', '')}/{d['metadata']['name']}" for d in docs]
        assert refs == sorted(refs) or len(refs) == 1


def test_write_is_atomic_per_site_and_check_lists_stale_sites(local, tmp_path) -> None:
    env, plan = local
    written = tree.write(tree.Plan(plan.rendered, ["local/local"], []), root=tmp_path)
    assert written == ["local/local"]
    assert tree.read_site("local", "local", tmp_path) == plan.rendered[("local", "local")]
    assert not [p for p in (tmp_path / "deploy").iterdir() if p.name.startswith(".")]   # no leftovers
    again = tree.plan([env], root=tmp_path)
    assert again.current
    edited = tmp_path / "deploy/local/local/gateway.yaml"
    edited.write_text(edited.read_text().replace("replicas: 1", "replicas: 3"))
    (tmp_path / "deploy/local/gone-site").mkdir()
    stale = tree.plan([env], root=tmp_path)
    assert stale.stale == ["local/local"] and stale.removed == ["local/gone-site"]
    tree.write(stale, root=tmp_path)
    assert tree.plan([env], root=tmp_path).current
    assert not (tmp_path / "deploy/local/gone-site").exists()


def test_a_rendered_secret_never_reaches_git(local) -> None:
    env, _ = local
    release = compose(env, env.sites["local"])[0]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak", "namespace": "x"},
              "data": {"k": "dg=="}}
    with pytest.raises(tree.RenderError, match="Secrets never go to Git"):
        tree.release_file(env, release, [secret])


def _deployment(replicas: int, image: str = "r/x:1", conf: str = "a\nb\n") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m", "namespace": "ns"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "server", "image": image}, {"name": "sidecar", "image": "s:1"}]}}},
            "data": {"conf": conf}}


def test_field_level_diff_matches_containers_by_name() -> None:
    changes = diff.field_changes(_deployment(1), _deployment(2, "r/x:2", "a\nc\n"))
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("data.conf", "a\nb\n", "a\nc\n"),
        ("spec.replicas", "1", "2"),
        ("spec.template.spec.containers[name=server].image", "r/x:1", "r/x:2")]


def test_sites_that_change_alike_are_one_group() -> None:
    same = diff_objects([_deployment(1)], [_deployment(2)])
    other = diff_objects([_deployment(1)], [_deployment(1, "r/x:2")])
    changes = {f"prod/s{i}": same for i in range(12)} | {"prod/odd": other}
    groups = diff.group(changes)
    assert [len(sites) for sites, _ in groups] == [12, 1]
    text = "\n".join(diff.markdown(changes))
    assert "13 site(s) change, in 2 distinct way(s)" in text
    assert "**12 sites alike**" in text and "`spec.replicas`: `1` → `2`" in text
    assert "**prod/odd**" in text and "`r/x:1` → `r/x:2`" in text
    assert diff.markdown({}) == []
    assert not ObjectChanges()
