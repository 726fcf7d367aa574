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

from edgeai.objects import object_ref

Obj = dict[str, Any]
SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the object: facts, never I/O."""
    environment: dict[str, Any] = field(default_factory=dict)   # environment.yaml contents
    site: dict[str, Any] = field(default_factory=dict)          # site file contents
    pod_security: str = "restricted"                            # level of the object's namespace
    objects: tuple[Obj, ...] = ()                                # every object of the site
    releases: tuple[dict[str, Any], ...] = ()                   # the site's composition (name, component,
                                                                 # namespace, syncWave, values)
    namespaces: dict[str, str] = field(default_factory=dict)    # namespace -> Pod Security level
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # model files of the environment
    placement: dict[str, list[str]] = field(default_factory=dict)    # model -> sites running it
    # What the site stack creates beside the releases (catalog.SITE_SECRETS): (kind, namespace, name) -> data keys
    provided: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict)

    def level_of(self, obj: Obj) -> str:
        """Pod Security level of the object's namespace (the context's own level when unknown)."""
        ns = (obj.get("metadata") or {}).get("namespace")
        return self.namespaces.get(ns, self.pod_security)


SCOPES = ("object", "site", "environment")


@dataclass(frozen=True)
class Rule:
    """A policy rule. Object rules: check(obj, ctx) yields messages about obj.
    Site rules see the whole site at once: check(None, ctx) yields (obj or None, message).
    Environment rules run once per environment (ctx has no site): same form as site rules."""
    id: str
    title: str
    severity: str
    rationale: str
    remediation: str
    check: Callable[[Any, Context], Iterable[Any]]
    kinds: frozenset[str] = frozenset()   # kinds the rule looks at; empty = every kind
    scope: str = "object"

    def __post_init__(self) -> None:
        assert self.severity in SEVERITIES, self.severity
        assert self.scope in SCOPES, self.scope

    def applies_to(self, obj: Obj) -> bool:
        return not self.kinds or obj.get("kind") in self.kinds


@dataclass(frozen=True)
class Violation:
    rule: Rule
    obj: Obj
    message: str

    @property
    def object_ref(self) -> str:
        return object_ref(self.obj)


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


# Stand-ins for the subject of a violation that is not about one object.
SITE = {"kind": "Site"}
ENVIRONMENT = {"kind": "Environment"}


def evaluate(objects: Iterable[Obj], context: Context, rules: Iterable[Rule] | None = None) -> list[Violation]:
    """Object and site rules over one site (environment rules: see evaluate_environment)."""
    objects = list(objects)
    out = []
    for rule in rules if rules is not None else all_rules():
        if rule.scope == "environment":
            continue
        if rule.scope == "site":
            out += [Violation(rule, obj or SITE, message) for obj, message in rule.check(None, context)]
            continue
        for obj in objects:
            if rule.applies_to(obj):
                out += [Violation(rule, obj, message) for message in rule.check(obj, context)]
    return out


def evaluate_environment(context: Context, rules: Iterable[Rule] | None = None) -> list[Violation]:
    out = []
    for rule in rules if rules is not None else all_rules():
        if rule.scope == "environment":
            out += [Violation(rule, obj or ENVIRONMENT, message) for obj, message in rule.check(None, context)]
    return out
