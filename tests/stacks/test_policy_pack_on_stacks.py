"""The policy pack on what the stacks really create: every recorded resource of every stack, through
the pack's own policies (as `pulumi preview --policy-pack policies/pulumi` would run them)."""

from __future__ import annotations

from pulumi_policy import PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs

from policies.pulumi import pack
from stacks.training import workloads


def pack_verdict(stack: str, run) -> list[tuple[str, str]]:
    """(policy, message) of every violation the pack reports on the run's resources."""
    resources = [(r.type, r.inputs, f"urn:pulumi:{stack}::edgeai::{r.type}::{r.name}", r.name) for r in run.resources]
    found: list[tuple[str, str]] = []
    for policy in pack.policies():
        def report(message, urn=None, policy=policy):
            found.append((policy.name, message))
        if isinstance(policy, ResourceValidationPolicy):
            for t, props, urn, name in resources:
                policy.validate(ResourceValidationArgs(t, props, urn, name, None, None), report)
        else:
            fakes = [PolicyResource(t, props, urn, name, None, None, None, [], {}) for t, props, urn, name in resources]
            policy.validate(StackValidationArgs(fakes), report)
    return found


def test_site_stacks_pass_the_pack(site_case) -> None:
    env, site, run = site_case
    assert pack_verdict(f"{env.name}.{site.name}", run) == []


def test_training_stacks_pass_the_pack(training_case) -> None:
    """Except one deliberate finding: this repository's images (MLflow, Postgres, MinIO, the retrain
    job's) live on ghcr.io; an environment whose images.allowedRegistries omits it gets EAI-IMG-002
    until it allows it (or mirrors)."""
    env, _, run = training_case
    allowed = (env.config.get("images") or {}).get("allowedRegistries")
    registry = workloads.IMAGES["mlflow"].split("/", 1)[0]
    found = pack_verdict(f"{env.name}.training", run)
    if allowed and registry not in allowed:
        assert {rule for rule, _ in found} == {"EAI-IMG-002"}
        assert all(f"pulls from {registry}" in message for _, message in found)
    else:
        assert found == []
