"""stacks/__main__.py (what `pulumi up` runs): the stack name picks the environment, the site or
the training side, and nothing else."""

from __future__ import annotations

import runpy

import pulumi
import pytest
import stack_harness
from stack_cases import config_for, training_outputs

from edgeai import paths
from edgeai import stacks as naming

MAIN = paths.ROOT / "stacks" / "__main__.py"


def run_main(stack: str, monkeypatch, stack_outputs=None) -> stack_harness.Run:
    name = naming.parse(stack)
    config, secret_keys = config_for(stack, naming.config_keys(name))

    def program():
        exported: dict = {}
        monkeypatch.setattr(pulumi, "export", exported.__setitem__)   # the mocks have no Stack resource
        runpy.run_path(str(MAIN), run_name="__main__")
        return exported

    return stack_harness.run(program, stack=stack, config=config, secret_keys=secret_keys,
                             stack_outputs=stack_outputs)


def test_a_site_stack_builds_its_site(monkeypatch) -> None:
    run = run_main("staging.stg-eu-1", monkeypatch,
                   {naming.training_stack("staging"): training_outputs("staging")})
    assert run.outputs["stack"] == "staging.stg-eu-1" and run.outputs["site"] == "stg-eu-1"
    assert run.of_type("Application") and run.of_type("AppProject")
    assert not run.of_type("CronJob")


def test_a_training_stack_builds_the_cloud_side(monkeypatch) -> None:
    run = run_main("staging.training", monkeypatch)
    assert run.outputs["stack"] == "staging.training"
    assert run.of_type("CronJob") and not run.of_type("Application")


@pytest.mark.parametrize(("stack", "message"), [
    ("staging.nowhere", "no site 'nowhere'"),
    ("nosuchenv.training", "no environment 'nosuchenv'"),
    ("staging", "is not <env>.training or <env>.<site>"),
])
def test_a_stack_that_names_nothing_known_fails_clearly(stack, message, monkeypatch) -> None:
    with pytest.raises(pulumi.RunError, match=message):
        run_main(stack, monkeypatch) if "." in stack else _run_unparsable(stack, monkeypatch)


def _run_unparsable(stack: str, monkeypatch):
    def program():
        runpy.run_path(str(MAIN), run_name="__main__")
        return {}

    return stack_harness.run(program, stack=stack)
