"""Input problems: each names the file, the line, the YAML path, what was expected and how to fix it.

Loading collects every problem of a run and raises them together, so a user fixes a
pull request in one round instead of one error at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgeai import paths

YamlPath = Sequence[str | int]


def format_path(path: YamlPath) -> str:
    """('nodes', 'gpu', 'count') -> 'nodes.gpu.count'; list items as [i]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def display(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(file)


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None
    path: tuple[str | int, ...]
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{display(self.file)}:{self.line}" if self.line else display(self.file)
        text = f"{where}: {format_path(self.path)}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text

    def as_dict(self) -> dict:
        return {"file": display(self.file), "line": self.line, "path": format_path(self.path),
                "message": self.message, "fix": self.fix}


class InputErrors(Exception):
    """Every problem found in the input; the CLI prints them all and exits 2."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (display(p.file), p.line or 0, p.message))
        super().__init__("\n".join(map(str, self.problems)))
