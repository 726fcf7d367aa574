"""The policy catalog against its samples, in the manner of gatekeeper-library.

Every rule module policies/rules/<module>.py has policies/samples/<module>.yaml with `allowed`
cases (evaluating the rule yields no violation) and `disallowed` cases (it yields a violation
whose message contains the case's `message`). docs/policies.md is generated from the rules by
scripts/gen-policy-docs.py and must be current.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import rules as rules_package
from policies.engine import SCOPES, SEVERITIES, Context, Rule, all_rules, evaluate, evaluate_environment

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "policies" / "samples"
DOCS = ROOT / "docs" / "policies.md"
GENERATOR = ROOT / "scripts" / "gen-policy-docs.py"

RULES = all_rules()
MODULES = sorted(info.name for info in pkgutil.iter_modules(rules_package.__path__))
RULE_ID = re.compile(r"^EAI-[A-Z]+-\d{3}$")
SAMPLE_KEYS = {"rule", "allowed", "disallowed"}
CASE_KEYS = {"case", "context", "objects", "message"}
CONTEXT_KEYS = {f.name for f in dataclasses.fields(Context)} - {"objects"}  # objects come from the case


def module_of(rule: Rule) -> str:
    return rule.check.__module__.rsplit(".", 1)[-1]


def sample_path(rule: Rule) -> Path:
    return SAMPLES / f"{module_of(rule)}.yaml"


def load_sample(rule: Rule) -> dict[str, Any]:
    return yaml.safe_load(sample_path(rule).read_text()) or {}


def _cases(outcome: str) -> list:
    """One pytest param per case of every sample; a missing or broken sample yields none (and
    test_sample_file_is_complete says why)."""
    params = []
    for rule in RULES:
        try:
            sample = load_sample(rule)
        except (OSError, yaml.YAMLError):
            continue
        for i, case in enumerate(sample.get(outcome) or []):
            label = case.get("case", f"#{i}") if isinstance(case, dict) else f"#{i}"
            params.append(pytest.param(rule, case, id=f"{rule.id}:{module_of(rule)}:{outcome}:{label}"))
    return params


def violations(rule: Rule, case: dict[str, Any]) -> list[str]:
    """Messages of the rule's violations on the case, evaluated the way the gate does."""
    objects = list(case.get("objects") or [])
    context = dict(case.get("context") or {})
    if "releases" in context:
        context["releases"] = tuple(context["releases"])
    if "provided" in context:   # a list of {kind, namespace, name, keys} in YAML
        context["provided"] = {(p["kind"], p["namespace"], p["name"]): frozenset(p["keys"])
                               for p in context["provided"]}
    ctx = Context(**context, objects=tuple(objects))
    found = evaluate_environment(ctx, [rule]) if rule.scope == "environment" else evaluate(objects, ctx, [rule])
    return [v.message for v in found if v.rule is rule]


def _describe(case: dict[str, Any]) -> str:
    return yaml.safe_dump(case, sort_keys=False, width=120)


# --- the catalog itself -------------------------------------------------------------------------

def test_every_module_defines_one_rule():
    assert sorted(module_of(r) for r in RULES) == MODULES


def test_rule_ids_are_unique():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.id}:{module_of(r)}")
def test_rule_is_documented(rule: Rule):
    assert RULE_ID.match(rule.id), f"{rule.id} is not of the form EAI-<AREA>-NNN"
    assert rule.severity in SEVERITIES
    assert rule.scope in SCOPES
    for field in ("title", "rationale", "remediation"):
        assert isinstance(getattr(rule, field), str) and getattr(rule, field).strip(), f"{rule.id} has no {field}"
    assert not rule.title.endswith("."), f"{rule.id}: a title is not a sentence"
    if rule.scope != "object":
        assert not rule.kinds, f"{rule.id}: kinds only filter object rules; a {rule.scope} rule sees everything"


# --- samples ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.id}:{module_of(r)}")
def test_sample_file_is_complete(rule: Rule):
    path = sample_path(rule)
    assert path.is_file(), f"{rule.id}: no sample file {path.relative_to(ROOT)}"
    sample = load_sample(rule)
    assert isinstance(sample, dict), f"{path.name}: not a mapping"
    assert set(sample) <= SAMPLE_KEYS, f"{path.name}: unknown keys {sorted(set(sample) - SAMPLE_KEYS)}"
    assert sample.get("rule") == rule.id, f"{path.name}: rule is {sample.get('rule')!r}, not {rule.id}"
    for outcome in ("allowed", "disallowed"):
        cases = sample.get(outcome) or []
        assert isinstance(cases, list) and cases, f"{path.name}: needs at least one {outcome} case"
        names = [c.get("case") for c in cases if isinstance(c, dict)]
        assert len(names) == len(cases), f"{path.name}: every {outcome} case is a mapping"
        assert all(isinstance(n, str) and n.strip() for n in names), f"{path.name}: every case has a description"
        assert len(set(names)) == len(names), f"{path.name}: {outcome} case descriptions repeat"
        for case in cases:
            where = f"{path.name}: {outcome} case {case['case']!r}"
            assert set(case) <= CASE_KEYS, f"{where}: unknown keys {sorted(set(case) - CASE_KEYS)}"
            context = case.get("context") or {}
            assert isinstance(context, dict), f"{where}: context is not a mapping"
            assert set(context) <= CONTEXT_KEYS, f"{where}: not Context fields: {sorted(set(context) - CONTEXT_KEYS)}"
            objects = case.get("objects") or []
            assert isinstance(objects, list), f"{where}: objects is not a list"
            for obj in objects:
                assert isinstance(obj, dict) and {"apiVersion", "kind", "metadata"} <= set(obj), \
                    f"{where}: every object has apiVersion, kind and metadata"
            if outcome == "disallowed":
                assert isinstance(case.get("message"), str) and case["message"], f"{where}: needs a message"
            else:
                assert "message" not in case, f"{where}: an allowed case expects no message"


def test_every_sample_belongs_to_a_rule():
    orphans = sorted(p.name for p in SAMPLES.glob("*") if p.stem not in MODULES or p.suffix != ".yaml")
    assert not orphans, f"samples without a rule module: {orphans}"


@pytest.mark.parametrize(("rule", "case"), _cases("allowed"))
def test_allowed_case_passes(rule: Rule, case: dict[str, Any]):
    found = violations(rule, case)
    assert not found, f"{rule.id} flags an allowed case:\n{found}\n{_describe(case)}"


@pytest.mark.parametrize(("rule", "case"), _cases("disallowed"))
def test_disallowed_case_fails(rule: Rule, case: dict[str, Any]):
    found = violations(rule, case)
    assert any(case["message"] in m for m in found), \
        f"{rule.id}: no violation containing {case['message']!r}; got {found}\n{_describe(case)}"


# --- generated documentation --------------------------------------------------------------------

def _generator():
    spec = importlib.util.spec_from_file_location("gen_policy_docs", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_policy_docs_are_current():
    wanted = _generator().render(RULES)
    current = DOCS.read_text() if DOCS.is_file() else ""
    assert current == wanted, "docs/policies.md is out of date: run .venv/bin/python scripts/gen-policy-docs.py"


def test_policy_docs_name_every_rule():
    text = DOCS.read_text()
    for rule in RULES:
        assert f"## {rule.id}" in text, rule.id
