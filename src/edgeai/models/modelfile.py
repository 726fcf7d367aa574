"""Edit top-level fields of a model file, keeping every other line (comments included) as it is."""

from __future__ import annotations

import math
from typing import Any

import yaml


def flow(value: Any) -> str:
    """A value as one line of YAML (`{uri: s3://..., weight: 10}`)."""
    return yaml.safe_dump(value, default_flow_style=True, width=math.inf).removesuffix("...\n").strip()


def _key(line: str) -> str | None:
    """The top-level key a line starts, if it starts one."""
    if line[:1] in ("", " ", "\t", "#", "-"):
        return None
    key, sep, _ = line.partition(":")
    return key.strip() if sep else None


def set_fields(text: str, fields: dict[str, Any], comments: dict[str, str] | None = None) -> str:
    """`text` with each top-level field of `fields` set (None: removed). A set field replaces its line
    in place (and the indented lines of a block value under it); a new field is appended. The
    replaced line's own comment goes with it (it spoke of the old value); `comments` gives the new
    line one. The result is checked to parse to exactly the intended document."""
    comments = comments or {}
    out, skipping, done = [], False, set()
    for line in text.splitlines():
        key = _key(line)
        if key is not None:
            skipping = False
        elif skipping and (line.startswith((" ", "\t", "-")) or not line.strip()):
            continue          # the block value of a replaced or removed field
        if key in fields:
            skipping = True
            done.add(key)
            if fields[key] is not None:
                out.append(_line(key, fields[key], comments.get(key)))
            continue
        out.append(line)
    out += [_line(k, v, comments.get(k)) for k, v in fields.items() if k not in done and v is not None]
    result = "\n".join(out) + "\n"
    wanted = {k: v for k, v in {**(yaml.safe_load(text) or {}), **fields}.items() if v is not None}
    try:
        same = yaml.safe_load(result) == wanted
    except yaml.YAMLError:
        same = False
    if not same:   # a layout this editor does not understand (anchors, multi-line flow...): write nothing
        raise ValueError("cannot edit this model file line by line; edit it by hand")
    return result


def _line(key: str, value: Any, comment: str | None) -> str:
    return f"{key}: {flow(value)}" + (f"   # {comment}" if comment else "")
