"""What a change does to the sites, field by field, in a form a reviewer reads in a minute.

`edgeai gitops diff --base REV` compares the rendered tree (deploy/) at REV with the working tree's;
`edgeai validate --changed-since REV --markdown` renders the affected sites and shows the same summary.
Sites whose objects change alike are one group ("12 sites: ..."), so a change to a model that runs
on every store reads as one entry, not twelve.
"""

from __future__ import annotations

import difflib
import io
import json
import tarfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgeai import paths
from edgeai.gitops import DEPLOY_DIR

ABSENT = None
MAX_OBJECTS, MAX_FIELDS, MAX_LINES, MAX_SITES_NAMED = 30, 20, 16, 6


@dataclass(frozen=True)
class FieldChange:
    path: str               # e.g. spec.template.spec.containers[name=server].image
    before: str | None      # JSON of the value; None when the field is absent
    after: str | None


def _enc(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items) and \
        len({i["name"] for i in items}) == len(items)


def field_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Every leaf that differs; list items with a `name` (containers, ports, env) are matched by it."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(FieldChange(sub, ABSENT, _enc(new[key])))
            elif key not in new:
                out.append(FieldChange(sub, _enc(old[key]), ABSENT))
            else:
                out += field_changes(old[key], new[key], sub)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if _named(old) and _named(new):
            return _named_lists(old, new, path)
        if len(old) == len(new):
            return [c for i, (a, b) in enumerate(zip(old, new, strict=True))
                    for c in field_changes(a, b, f"{path}[{i}]")]
    return [FieldChange(path, _enc(old), _enc(new))]


def _named_lists(old: list[dict], new: list[dict], path: str) -> list[FieldChange]:
    before, after = {i["name"]: i for i in old}, {i["name"]: i for i in new}
    out = []
    for name in sorted(set(before) | set(after)):
        sub = f"{path}[name={name}]"
        if name not in before:
            out.append(FieldChange(sub, ABSENT, _enc(after[name])))
        elif name not in after:
            out.append(FieldChange(sub, _enc(before[name]), ABSENT))
        else:
            out += field_changes(before[name], after[name], sub)
    return out


def _show(value: str | None) -> str:
    if value is None:
        return "(absent)"
    text = value if len(value) <= 80 else value[:77] + "..."
    return f"`{text}`"


def field_lines(change: FieldChange, indent: str) -> list[str]:
    multiline = any(v is not None and "\n" in v for v in (change.before, change.after))
    if not multiline:
        return [f"{indent}- `{change.path}`: {_show(change.before)} → {_show(change.after)}"]
    diff = [line for line in difflib.unified_diff((change.before or "").splitlines(),
                                                   (change.after or "").splitlines(), lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))]
    shown = diff[:MAX_LINES] + ([f"… {len(diff) - MAX_LINES} more lines"] if len(diff) > MAX_LINES else [])
    return [f"{indent}- `{change.path}`:", f"{indent}  ```diff", *(f"{indent}  {line}" for line in shown),
            f"{indent}  ```"]


def group(changes: dict[str, Any]) -> list[tuple[list[str], Any]]:
    """Sites (env/site -> changes.ObjectChanges) grouped by identical changes, largest group first."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    first: dict[tuple, Any] = {}
    for where, diff in sorted(changes.items()):
        key = (tuple(diff.added), tuple(diff.removed),
               tuple((ref, tuple(diff.fields.get(ref, ()))) for ref in diff.modified))
        groups[key].append(where)
        first.setdefault(key, diff)
    return sorted(((sites, first[key]) for key, sites in groups.items()), key=lambda g: (-len(g[0]), g[0]))


def markdown(changes: dict[str, Any], title: str = "What this change does to the sites") -> list[str]:
    if not changes:
        return []
    groups = group(changes)
    out = [f"### {title}", "",
           f"{len(changes)} site(s) change, in {len(groups)} distinct way(s).", ""]
    for sites, diff in groups:
        named = ", ".join(sites[:MAX_SITES_NAMED]) + (f", … ({len(sites) - MAX_SITES_NAMED} more)"
                                                     if len(sites) > MAX_SITES_NAMED else "")
        counts = f"{len(diff.added)} added, {len(diff.modified)} modified, {len(diff.removed)} removed"
        head = f"**{len(sites)} sites alike**" if len(sites) > 1 else f"**{sites[0]}**"
        out.append(f"- {head} ({named}): {counts}" if len(sites) > 1 else f"- {head}: {counts}")
        entries = ([("+", ref) for ref in diff.added] + [("~", ref) for ref in diff.modified]
                   + [("-", ref) for ref in diff.removed])
        for sign, ref in entries[:MAX_OBJECTS]:
            out.append(f"  - `{sign} {ref}`")
            fields = diff.fields.get(ref, []) if sign == "~" else []
            for change in fields[:MAX_FIELDS]:
                out += field_lines(change, "    ")
            if len(fields) > MAX_FIELDS:
                out.append(f"    - … and {len(fields) - MAX_FIELDS} more fields")
        if len(entries) > MAX_OBJECTS:
            out.append(f"  - … and {len(entries) - MAX_OBJECTS} more objects")
    return out + [""]


# --- the rendered tree at two revisions ----------------------------------------------------------

def _objects(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def tree_at(rev: str | None, root: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """env/site -> its objects in deploy/, at git REV (None: the working tree)."""
    from edgeai.changes import _git

    root = root or paths.ROOT
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if rev is None:
        for path in sorted((root / DEPLOY_DIR).glob("*/*/*.yaml")):
            out[f"{path.parent.parent.name}/{path.parent.name}"] += _objects(path.read_text())
        return dict(out)
    listed = _git("ls-tree", "-r", "--name-only", rev, "--", DEPLOY_DIR)
    if not listed.strip():
        return {}
    data = _git("archive", "--format=tar", rev, DEPLOY_DIR, binary=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[3].endswith(".yaml"):
                out[f"{parts[1]}/{parts[2]}"] += _objects(tar.extractfile(member).read().decode())
    return dict(out)


def tree_changes(base: str, head: str | None = None) -> dict[str, Any]:
    """env/site -> changes.ObjectChanges between deploy/ at BASE and at HEAD (None: the working tree)."""
    from edgeai.changes import diff_objects

    before, after = tree_at(base), tree_at(head)
    out = {}
    for where in sorted(set(before) | set(after)):
        diff = diff_objects(before.get(where, []), after.get(where, []))
        if diff:
            out[where] = diff
    return out
