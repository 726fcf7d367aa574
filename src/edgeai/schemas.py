"""JSON Schema validation whose messages say what was expected, where, and how to fix it."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from edgeai import formats, paths
from edgeai.problems import Problem
from edgeai.yamlfile import SCHEMA_HEADER, YamlFile

# Where each kind's header points, relative to the file (environments/<env>/[sites|models]/).
HEADER_REF = {
    "environment": "../schema/environment.schema.json",
    "site": "../../schema/site.schema.json",
    "model": "../../schema/model.schema.json",
}


@functools.cache
def _registry() -> Registry:
    """All environment schemas by $id, so their relative $refs resolve as they do in editors."""
    resources = []
    for file in sorted(paths.SCHEMAS.glob("*.schema.json")):
        schema = json.loads(file.read_text())
        Draft202012Validator.check_schema(schema)
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


# Formats the schemas assert (JSON Schema only annotates them unless a checker is given). Each
# raises ValueError saying what is wrong; editors ignore the custom ones.
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    # '2027-02-30' matches the pattern but is no day: fromisoformat says "day is out of range".
    return not isinstance(value, str) or bool(dt.date.fromisoformat(value))


@FORMATS.checks("cidr", raises=ValueError)
def _cidr(value: object) -> bool:
    problem = formats.cidr_problem(value) if isinstance(value, str) else None
    if problem:
        raise ValueError(problem)
    return True


# One file with thousands of errors (a pasted blob) would print thousands of lines; the first
# ones say what is wrong.
MAX_PROBLEMS_PER_FILE = 20


@functools.cache
def validator_for(schema_file: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_file.read_text()), registry=_registry(),
                                format_checker=FORMATS)


def schema_path(kind: str) -> Path:
    return paths.SCHEMAS / f"{kind}.schema.json"


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def explain(err: ValidationError) -> tuple[list[str | int], str, str]:
    """(path, message, fix) for one schema error, in a user's terms rather than jsonschema's."""
    path, v, arg, inst = list(err.absolute_path), err.validator, err.validator_value, err.instance
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        unknown = sorted(set(inst) - set(allowed))
        key = unknown[0]
        close = difflib.get_close_matches(key, allowed, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return path + [key], f"unknown key '{key}'", fix
    if v == "required":
        missing = arg[0] if isinstance(arg, list) else arg
        for name in arg:
            if name not in inst:
                missing = name
                break
        return path, f"missing required key '{missing}'", f"add '{missing}:'"
    if v == "type":
        want = arg if isinstance(arg, str) else " or ".join(arg)
        return path, f"expected {want}, got {_type_name(inst)} {json.dumps(inst)}", ""
    if v == "enum":
        close = difflib.get_close_matches(str(inst), [str(a) for a in arg], n=1)
        fix = f"did you mean '{close[0]}'?" if close else ""
        return path, f"expected one of {', '.join(map(str, arg))}; got {json.dumps(inst)}", fix
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        return path, f"expected a value {op} {arg}, got {json.dumps(inst)}", err.schema.get("description", "")
    if v == "format":
        cause = f": {err.cause}" if err.cause else ""
        return path, f"{json.dumps(inst)} is not a valid {arg}{cause}", err.schema.get("description", "")
    if v in ("maxLength", "maxItems", "maxProperties"):
        return path, f"expected at most {arg} {v.removeprefix('max').lower()}", ""
    if v == "not" and isinstance(arg, dict) and arg == {}:
        return path, "this key takes no values", err.schema.get("description", "remove it")
    if v == "pattern":
        hint = err.schema.get("description", "")
        return path, f"{json.dumps(inst)} does not have the expected form ({arg})", hint
    if v in ("minItems", "minLength"):
        return path, f"expected at least {arg} {'item' if v == 'minItems' else 'character'}(s)", ""
    if v == "uniqueItems":
        return path, "items must be unique", "remove the repeated item"
    if v == "const":
        return path, f"expected {json.dumps(arg)}, got {json.dumps(inst)}", ""
    return path, err.message, ""


def validate(doc: YamlFile, kind: str) -> list[Problem]:
    """Every schema violation of one environment file."""
    problems: list[Problem] = []
    for err in validator_for(schema_path(kind)).iter_errors(doc.data):
        if len(problems) == MAX_PROBLEMS_PER_FILE:
            problems.append(doc.problem((), f"more schema errors in this file than the {MAX_PROBLEMS_PER_FILE} "
                                        "shown", "fix these and run again"))
            break
        path, message, fix = explain(err)
        problems.append(doc.problem(path, message, fix))
    return problems


def check_header(doc: YamlFile, kind: str) -> list[Problem]:
    """Line 1 must point editors at the schema, so they complete and check the file as it is typed."""
    problems = []
    first = doc.path.read_text().partition("\n")[0]
    if not (first.startswith(SCHEMA_HEADER) and first.endswith(f"{kind}.schema.json")):
        problems.append(Problem(doc.path, 1, (), "line 1 is not the editor schema header",
                                f"make line 1 '{SCHEMA_HEADER}{HEADER_REF[kind]}'"))
    return problems
