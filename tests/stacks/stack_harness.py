"""Run a Pulumi program under Pulumi's own mocks and hand back plain data to assert on.

Every assertion of the stack tests runs on plain Python values after the program has finished:
`run()` records each resource's inputs as the (mock) engine received them, and resolves every
stack output (value and secretness) by awaiting it inside `pulumi.runtime.test`. No assertion
runs inside an `apply` callback, so none can be silently skipped; `expect()` (for the few checks
on an Output itself) awaits the Output the same way, so its assertion fails the test.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc

PROJECT = "edgeai"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]          # secret values unwrapped
    secret_inputs: frozenset[str]   # top-level input keys the engine received as secrets
    provider: str

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def metadata(self) -> dict[str, Any]:
        return self.inputs.get("metadata") or {}

    @property
    def k8s_name(self) -> str:
        return self.metadata.get("name")

    @property
    def namespace(self) -> str | None:
        return self.metadata.get("namespace")


def _unwrap(value: Any) -> Any:
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Returns each resource's inputs as its state; answers StackReferences from `stack_outputs`."""

    def __init__(self, stack_outputs: dict[str, dict[str, Any]] | None = None):
        self.stack_outputs = stack_outputs or {}
        self.resources: list[Resource] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        secret = frozenset(k for k, v in inputs.items() if rpc.is_rpc_secret(v))
        self.resources.append(Resource(args.typ, args.name, _unwrap(inputs), secret, args.provider or ""))
        if args.typ == STACK_REFERENCE:
            stack = args.resource_id or args.name
            if stack not in self.stack_outputs:
                raise KeyError(f"no mocked outputs for stack {stack}")
            return f"{stack}_id", {"name": stack, "outputs": self.stack_outputs[stack],
                                   "secretOutputNames": []}
        return f"{args.name}_id", inputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(args.token)
        return {}


@dataclass
class Run:
    resources: list[Resource]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    calls: list[str] = field(default_factory=list)

    def of_type(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    def one(self, kind: str, name: str, namespace: str | None = None) -> Resource:
        found = [r for r in self.of_type(kind) if r.k8s_name == name and r.namespace == namespace]
        assert len(found) == 1, f"{len(found)} {kind} {namespace}/{name}"
        return found[0]

    def plain_outputs_text(self) -> str:
        return json.dumps({k: v for k, v in self.outputs.items() if k not in self.secret_outputs},
                          default=str, sort_keys=True)


def _forget_failed_futures() -> None:
    """A failed program leaves futures whose exception (the one just raised) asyncio would log
    again when they are garbage-collected, in the middle of a later test: collect them now."""
    logger = logging.getLogger("asyncio")
    disabled, logger.disabled = logger.disabled, True
    try:
        gc.collect()
    finally:
        logger.disabled = disabled


def run(program: Callable[[], dict[str, Any]], *, stack: str, config: dict[str, str] | None = None,
        secret_keys: list[str] | None = None,
        stack_outputs: dict[str, dict[str, Any]] | None = None) -> Run:
    """Run `program` (which builds resources and returns the stack outputs) under fresh mocks."""
    mocks = RecordingMocks(stack_outputs)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config or {}, secret_keys or [])
    resolved: dict[str, tuple[Any, bool]] = {}

    @pulumi.runtime.test
    def _program():
        outputs = program()

        async def settle() -> None:
            for key, value in outputs.items():
                out = pulumi.Output.from_input(value)
                resolved[key] = (await out.future(), await out.is_secret())

        return settle()

    try:
        _program()
    except BaseException:
        _forget_failed_futures()
        raise
    return Run(resources=list(mocks.resources), outputs={k: v for k, (v, _) in resolved.items()},
               secret_outputs=frozenset(k for k, (_, s) in resolved.items() if s), calls=mocks.calls)


def expect(make_output: Callable[[], pulumi.Input[Any]], check: Callable[[Any], None], *,
           stack: str = "test.expect") -> Any:
    """Build one Output under mocks, run `check` on its value inside `apply`, and make the program
    return that applied Output so the test runner awaits it: a failing check fails the caller.

    (The classic pitfall is an `assert` inside `output.apply(...)` whose result nobody awaits or
    returns from the test: depending on the SDK version it never runs, or its failure surfaces
    only as a log line, and the test passes. tests/stacks/test_harness.py proves this one fails.)"""

    def checked(value: Any) -> Any:
        check(value)
        return value

    result = run(lambda: {"value": pulumi.Output.from_input(make_output()).apply(checked)}, stack=stack)
    return result.outputs["value"]
