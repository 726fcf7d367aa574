"""YAML documents that remember where every key and item came from."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from edgeai.problems import Problem, YamlPath

SCHEMA_HEADER = "# yaml-language-server: $schema="

# Limits checked before any work, so no input can make the gate hang or eat the machine.
# An environment file is configuration (the largest legitimate content, a Siddhi app, is tens
# of KiB); its values travel inline in an Argo CD Application, itself a Kubernetes object
# under etcd's 1.5 MiB request limit. ruamel parses ~50 KiB/s on a busy core: 256 KiB keeps a
# file's parse to seconds.
MAX_FILE_BYTES = 256 << 10
# Scalars, mappings and lists once aliases are expanded: the shipped files have a few hundred;
# nested aliases ("billion laughs") reach billions from a few lines.
MAX_NODES = 100_000
MAX_DEPTH = 64


class _TooBig(Exception):
    pass


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps timestamps as the strings typed: a date that matches the
    form but does not exist (2027-02-30) is then a schema error at its line, not a crash."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


@dataclass
class YamlFile:
    path: Path
    data: Any          # plain dicts/lists/scalars
    _tree: Any         # ruamel's round-trip tree, kept for line numbers

    def line(self, path: YamlPath) -> int:
        """1-based line of the deepest part of `path` that exists (1 for the document)."""
        node, line = self._tree, 1
        for part in path:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line = node.lc.item(part)[0] + 1
            else:
                break
            node = node[part]
        return line

    def problem(self, path: YamlPath, message: str, fix: str = "") -> Problem:
        return Problem(self.path, self.line(path), tuple(path), message, fix)


def _plain(tree: Any) -> Any:
    """ruamel's tree as plain dicts, lists and JSON scalars (ruamel's types compare and serialise
    differently), expanding aliases within MAX_NODES and MAX_DEPTH."""
    budget = [MAX_NODES]

    def walk(node: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise _TooBig
        if isinstance(node, dict):
            return {_key(k): walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(v, depth + 1) for v in node]
        if node is None or isinstance(node, (bool, int, float)):
            return json.loads(json.dumps(node))  # ruamel's ScalarFloat, ScalarInt, ScalarBoolean
        return str(node)

    return walk(tree, 0)


def _key(key: Any) -> str:
    """A mapping key as JSON would write it (1 -> '1', null -> 'null'); keys that are lists or
    mappings (`? [a, b]`) have no such form."""
    if isinstance(key, (dict, list, tuple)):
        raise TypeError("a mapping key is a list or a mapping")
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return str(key)


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def load(path: Path) -> tuple[YamlFile | None, list[Problem]]:
    """Parse one YAML file; on failure, the problem says where and why."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Problem(path, 1, (), f"the file has {size} bytes, over the limit of "
                                  f"{MAX_FILE_BYTES} for an environment file",
                                  "environment files hold settings, not data: move large content "
                                  "(models, apps) to an artifact store or a chart")]
        raw = path.read_bytes()
    except OSError as err:
        return None, [Problem(path, None, (), f"cannot read file: {err.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, [Problem(path, _line_of_offset(raw, err.start), (),
                              f"the file is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})",
                              "save the file as UTF-8")]
    if not text.strip() or all(ln.lstrip().startswith("#") for ln in text.splitlines() if ln.strip()):
        return None, [Problem(path, 1, (), "the file is empty; expected a YAML mapping",
                              "fill it in or delete the file")]
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        return None, [Problem(path, line, (), f"malformed YAML: {err.problem or err.context}",
                              "check indentation and quoting around this line")]
    except YAMLError as err:  # the reader's: a control character, a stray byte order mark
        position = getattr(err, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        return None, [Problem(path, line, (), f"malformed YAML: {str(err).splitlines()[0]}",
                              "remove control characters; keep to printable UTF-8 text")]
    except RecursionError:
        return None, [Problem(path, 1, (), "malformed YAML: nested too deeply",
                              f"at most {MAX_DEPTH} levels")]
    except (ValueError, TypeError) as err:  # a constructor's (an impossible value of a typed scalar)
        return None, [Problem(path, 1, (), f"malformed YAML: {err}", "quote the value")]
    if not isinstance(tree, CommentedMap):
        kind = {CommentedSeq: "a list"}.get(type(tree), f"a scalar {json.dumps(str(tree))[:60]}")
        return None, [Problem(path, 1, (), f"expected a YAML mapping at the top level, got {kind}",
                              "the file is a mapping of keys such as 'name:'")]
    try:
        data = _plain(tree)
    except _TooBig:
        anchor = re.search(r"&[^\s]+", text)
        line = text.count("\n", 0, anchor.start()) + 1 if anchor else 1
        return None, [Problem(path, line, (), f"the document expands to more than {MAX_NODES} values or "
                              f"{MAX_DEPTH} levels (nested aliases?)",
                              "write the values out instead of nesting YAML aliases (&anchor / *alias)")]
    except (TypeError, RecursionError) as err:
        complex_key = re.search(r"^\s*\?\s", text, re.M)
        line = text.count("\n", 0, complex_key.start()) + 1 if complex_key else 1
        return None, [Problem(path, line, (), f"malformed YAML: {err}",
                              "use plain strings as mapping keys")]
    return YamlFile(path, data, tree), []
