"""Rules and how they are run. One module per rule under policies/rules/, each defining RULE.

A rule sees one Kubernetes object at a time plus the site context (the environment's
settings, the site's facts and every other object of the site), so cross-object rules
(a PDB matching its workload, a Service whose selector matches pods) are plain rules too.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the object: facts, never I/O."""
    environment: dict[str, Any] = field(default_factory=dict)   # environment.yaml contents
    site: dict[str, Any] = field(default_factory=dict)          # site file contents
    pod_security: str = "restricted"                            # level of the object's namespace
    objects: tuple[Obj, ...] = ()                                # every object of the site


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    rationale: str
    remediation: str
    check: Callable[[Obj, Context], Iterable[str]]
    kinds: frozenset[str] = frozenset()   # kinds the rule looks at; empty = every kind

    def __post_init__(self) -> None:
        assert self.severity in SEVERITIES, self.severity

    def applies_to(self, obj: Obj) -> bool:
        return not self.kinds or obj.get("kind") in self.kinds


@dataclass(frozen=True)
class Violation:
    rule: Rule
    obj: Obj
    message: str

    @property
    def object_ref(self) -> str:
        meta = self.obj.get("metadata", {})
        ns = meta.get("namespace")
        return f"{self.obj.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


def all_rules() -> list[Rule]:
    """Every RULE under policies/rules, sorted by id."""
    from policies import rules as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.append(module.RULE)
    ids = [r.id for r in found]
    assert len(ids) == len(set(ids)), f"duplicate rule ids: {ids}"
    return sorted(found, key=lambda r: r.id)


def evaluate(objects: Iterable[Obj], context: Context, rules: Iterable[Rule] | None = None) -> list[Violation]:
    out = []
    for rule in rules if rules is not None else all_rules():
        for obj in objects:
            if rule.applies_to(obj):
                out += [Violation(rule, obj, message) for message in rule.check(obj, context)]
    return out
