"""Checks of what each file says, beyond its own schema, before any cross-file rule runs:

- component overrides (`components.<c>` of environment.yaml and site files) against their chart's
  values.schema.json, so a number written as a string or a mapping written as a scalar is reported
  at its line instead of reaching the cross-file rules or helm;
- strict formats the chart schemas leave open (image references, plausible quantities);
- secrets typed in any string (a password in a JAAS line, user:pass@ in a URL, a token);
- the size of each component's values, which travel inline in its Argo CD Application.

Each file is checked once (not once per site), so the cost does not grow with the fleet.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from typing import Any

from jsonschema import validators

from edgeai import formats, paths
from edgeai.catalog import COMPONENTS
from edgeai.problems import Problem
from edgeai.yamlfile import YamlFile

# Values of one component in one file. The Application carrying them (with the other layers)
# must stay under etcd's 1.5 MiB; a rendered ConfigMap under 1 MiB (EAI-REL-009 checks objects).
MAX_COMPONENT_VALUES_BYTES = 128 << 10
LIBRARY_KEY = "edgeai-common"


def _relaxed(schema: Any) -> Any:
    """The chart's schema for a partial layer: nothing is required (other layers and the chart's
    defaults supply the rest), and the library chart's key takes no values."""
    if isinstance(schema, dict):
        out = {k: _relaxed(v) for k, v in schema.items() if k != "required"}
        props = out.get("properties")
        if isinstance(props, dict) and LIBRARY_KEY in props:
            props[LIBRARY_KEY] = {"not": {}, "description": f"{LIBRARY_KEY} is the library chart: it "
                                  "takes no values; set the key at the top level of the component"}
        return out
    if isinstance(schema, list):
        return [_relaxed(v) for v in schema]
    return schema


@functools.cache
def _validator(component: str):
    chart = paths.CHARTS / COMPONENTS[component].chart
    schema = _relaxed(json.loads((chart / "values.schema.json").read_text()))
    from edgeai.schemas import FORMATS
    return validators.validator_for(schema)(schema, format_checker=FORMATS)


def _without_nulls(value: Any) -> Any:
    # Helm deletes a key set to null before the chart's schema sees the values.
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _walk(value: Any, path: tuple) -> Iterator[tuple[tuple, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


def _formats(values: dict[str, Any], require_digest: bool) -> Iterator[tuple[tuple, str, str]]:
    for path, value in _walk(values, ()):
        if not isinstance(value, dict) or not path:
            continue
        key = path[-1]
        if key == "image" or (len(path) >= 2 and path[-2] == "images"):
            found = formats.image_problem(value)
            if found:
                yield (*path, found[0]), found[1], found[2]
            if value.get("digest") and require_digest:
                yield ((*path, "digest"), "a digest typed into an environment file is one nobody verified",
                       "digests of an environment that requires them are resolved from the registry "
                       "that serves the image (docs/scanners.md, 'Digests in prod'); remove it")
        for i, cidr in enumerate(value.get("egressCIDRs") or [] if isinstance(value.get("egressCIDRs"), list) else []):
            found_c = formats.cidr_problem(cidr) if isinstance(cidr, str) else None
            if found_c:
                yield (*path, "egressCIDRs", i), found_c, "an IPv4 CIDR such as 198.51.100.0/26"
        if key in ("requests", "limits"):
            for resource in ("cpu", "memory", "ephemeral-storage"):
                found_q = formats.resource_problem(resource, value.get(resource))
                if found_q:
                    yield (*path, resource), found_q[0], found_q[1]


def check_components(doc: YamlFile, require_digest: bool = False) -> list[Problem]:
    """Every component override of one file, against its chart and the strict formats."""
    from edgeai.schemas import explain

    problems = []
    for component, values in (doc.data.get("components") or {}).items():
        if component not in COMPONENTS or not isinstance(values, dict):
            continue  # the file's own schema reports these
        base = ("components", component)
        size = len(json.dumps(values))
        if size > MAX_COMPONENT_VALUES_BYTES:
            problems.append(doc.problem(base, f"the values of {component} take {size} bytes, over the "
                                        f"limit of {MAX_COMPONENT_VALUES_BYTES}",
                                        "large content (apps, dashboards) belongs in the chart"))
            continue
        chart = COMPONENTS[component].chart
        for err in _validator(component).iter_errors(_without_nulls(copy.deepcopy(values))):
            path, message, fix = explain(err)
            problems.append(doc.problem((*base, *path), f"{message} (chart charts/{chart})", fix))
        for path, message, fix in _formats(values, require_digest):
            problems.append(doc.problem((*base, *path), message, fix))
    return problems


def check_secrets(doc: YamlFile) -> list[Problem]:
    """Strings of one file that carry a secret in plain text."""
    problems = []
    for path, value in _walk(doc.data, ()):
        kind = formats.secret_in(value) if isinstance(value, str) else None
        if kind:
            problems.append(doc.problem(path, f"holds {kind} in plain text, and this file is in Git",
                                        formats.SECRET_FIX))
    return problems


def check(doc: YamlFile, require_digest: bool = False) -> list[Problem]:
    return check_components(doc, require_digest) + check_secrets(doc)
