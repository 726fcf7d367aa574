"""YAML documents that remember where every key and item came from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from edgeai.problems import Problem, YamlPath

SCHEMA_HEADER = "# yaml-language-server: $schema="


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
    # ruamel's commented types behave like dict/list but compare and serialise differently.
    return json.loads(json.dumps(tree, default=str))


def load(path: Path) -> tuple[YamlFile | None, list[Problem]]:
    """Parse one YAML file; on failure, the problem says where and why."""
    try:
        text = path.read_text()
    except OSError as err:
        return None, [Problem(path, None, (), f"cannot read file: {err.strerror}")]
    if not text.strip() or all(ln.lstrip().startswith("#") for ln in text.splitlines() if ln.strip()):
        return None, [Problem(path, 1, (), "the file is empty; expected a YAML mapping",
                              "fill it in or delete the file")]
    try:
        tree = YAML(typ="rt").load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        return None, [Problem(path, line, (), f"malformed YAML: {err.problem or err.context}",
                              "check indentation and quoting around this line")]
    if not isinstance(tree, CommentedMap):
        return None, [Problem(path, 1, (), f"expected a YAML mapping at the top level, "
                              f"got {type(tree).__name__}")]
    return YamlFile(path, _plain(tree), tree), []
