"""The harness itself: assertions on Outputs cannot be skipped silently."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest
import stack_harness


def _namespace_name():
    ns = k8s.core.v1.Namespace("harness", metadata={"name": "harness-ns"})
    return ns.metadata.apply(lambda m: m["name"])


def _equals(expected):
    def check(value):
        assert value == expected, f"{value!r} != {expected!r}"
    return check


def test_expect_passes_on_the_right_value() -> None:
    assert stack_harness.expect(_namespace_name, _equals("harness-ns")) == "harness-ns"


def test_a_wrong_expectation_inside_apply_fails_the_test() -> None:
    """The known pitfall: an assert inside `apply` that never runs lets any test pass. The
    harness's check runs inside `apply` and still fails the caller."""
    with pytest.raises(AssertionError, match="harness-ns' != 'something-else'"):
        stack_harness.expect(_namespace_name, _equals("something-else"))


def test_a_failing_apply_in_a_program_fails_its_run() -> None:
    def program():
        out = _namespace_name().apply(lambda name: (_ for _ in ()).throw(AssertionError(f"bad {name}")))
        return {"name": out}

    with pytest.raises(AssertionError, match="bad harness-ns"):
        stack_harness.run(program, stack="test.failing")


def test_outputs_are_resolved_with_their_secretness() -> None:
    run = stack_harness.run(lambda: {"plain": pulumi.Output.from_input("a"),
                                     "hidden": pulumi.Output.secret("b"), "literal": 3}, stack="test.outputs")
    assert run.outputs == {"plain": "a", "hidden": "b", "literal": 3}
    assert run.secret_outputs == {"hidden"}
    assert "b" not in run.plain_outputs_text()


def test_each_run_starts_from_fresh_mocks() -> None:
    first = stack_harness.run(lambda: {"name": _namespace_name()}, stack="test.one")
    second = stack_harness.run(lambda: {"name": _namespace_name()}, stack="test.two")
    assert [r.name for r in first.resources] == [r.name for r in second.resources] == ["harness"]
