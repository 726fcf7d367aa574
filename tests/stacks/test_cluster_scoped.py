"""The AppProject allows exactly what the charts render: checked on real `helm template` output.

For the largest site of each environment (every component it runs), each release is rendered as
`edgeai validate` renders it; the cluster-scoped kinds must be those argocd.CLUSTER_RESOURCES
names for the component, and every namespaced object must land in a namespace the AppProject
lets Argo CD deploy to.
"""

from __future__ import annotations

import functools

import pytest
from stack_cases import ENVS

from edgeai import composition, render, tools
from edgeai.render import CLUSTER_SCOPED
from stacks.edge_site import argocd

try:
    tools.find("helm")
except tools.ToolMissing as err:  # pragma: no cover - the bootstrap script installs helm
    pytest.skip(f"helm is needed: {err}", allow_module_level=True)


def _largest(env):
    return max(env.sites.values(), key=lambda s: (len(composition.compose(env, s)), s.name))


CASES = [(name, _largest(env).name) for name, env in sorted(ENVS.items())]


@functools.cache
def _rendered(env_name: str, site_name: str) -> list[render.RenderedRelease]:
    env = ENVS[env_name]
    return render.render_site(env, env.sites[site_name])


def _group(obj) -> str:
    api = obj.get("apiVersion", "")
    return api.rpartition("/")[0] if "/" in api else ""


@pytest.mark.parametrize(("env_name", "site_name"), CASES, ids=[f"{e}.{s}" for e, s in CASES])
def test_cluster_scoped_kinds_are_exactly_the_allowed_ones(env_name, site_name) -> None:
    for rendered in _rendered(env_name, site_name):
        kinds = {(_group(o), o["kind"]) for o in rendered.objects if o["kind"] in CLUSTER_SCOPED}
        assert kinds == set(argocd.CLUSTER_RESOURCES.get(rendered.release.component, ())), rendered.release.name


@pytest.mark.parametrize(("env_name", "site_name"), CASES, ids=[f"{e}.{s}" for e, s in CASES])
def test_namespaced_objects_land_in_the_projects_destinations(env_name, site_name) -> None:
    env = ENVS[env_name]
    site = env.sites[site_name]
    spec = argocd.project_spec(env, site, composition.compose(env, site))
    allowed = {d["namespace"] for d in spec["destinations"]}
    blacklisted = {(b["group"], b["kind"]) for b in spec["namespaceResourceBlacklist"]}
    for rendered in _rendered(env_name, site_name):
        for obj in rendered.objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                assert obj["metadata"]["namespace"] in allowed, (rendered.release.name, obj["kind"])
                assert (_group(obj), obj["kind"]) not in blacklisted, (rendered.release.name, obj["kind"])


def test_every_component_with_cluster_resources_is_rendered_somewhere() -> None:
    components = {r.release.component for e, s in CASES for r in _rendered(e, s)}
    assert set(argocd.CLUSTER_RESOURCES) <= components
