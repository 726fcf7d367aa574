"""edgeai.site_objects (what `edgeai up` applies) equals what the Pulumi site stack creates, site by site."""

from __future__ import annotations

import sys

import pytest

from edgeai import composition, paths, site_objects

sys.path.insert(0, str(paths.ROOT / "tests" / "stacks"))
import stack_cases  # noqa: E402  (the stack runs of tests/stacks, under Pulumi's mocks)

from stacks.edge_site import argocd  # noqa: E402

KINDS = ("Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange")


def _key(kind: str, meta: dict) -> tuple[str, str | None, str]:
    return kind, meta.get("namespace"), meta["name"]


@pytest.mark.parametrize(("env_name", "site_name"), stack_cases.SITES, ids=stack_cases.SITE_IDS)
def test_site_objects_match_the_site_stack(env_name, site_name) -> None:
    env = stack_cases.ENVS[env_name]
    site = env.sites[site_name]
    releases = composition.compose(env, site)
    run = stack_cases.site_run(env_name, site_name)
    levels = {argocd.NAMESPACE: "restricted", **composition.namespaces(releases)}
    values = dict.fromkeys(site_objects.secret_keys(), "x")
    mine = {_key(o["kind"], o["metadata"]): o
            for o in site_objects.site_objects(env, site, releases, values, "https://s3.example",
                                               managed_by="pulumi", namespaces=levels)}
    stack = {_key(r.kind, r.metadata): r.inputs for r in run.resources if r.kind in KINDS}
    baseline = set(site_objects.baseline_network_policy_specs())
    stack = {k: v for k, v in stack.items() if k[0] != "NetworkPolicy" or k[2] in baseline}
    assert {k for k in mine if k[0] in KINDS} == set(stack)
    for key, obj in stack.items():
        assert mine[key]["metadata"]["labels"] == obj["metadata"]["labels"], key
        assert mine[key].get("spec") == obj.get("spec"), key
    secrets = {_key("Secret", r.metadata): set(r.inputs["stringData"]) for r in run.of_type("Secret")}
    assert {k: set(o["data"]) for k, o in mine.items() if k[0] == "Secret"} == secrets
