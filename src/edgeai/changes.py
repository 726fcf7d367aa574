"""What a change touches: `edgeai validate --changed-since REV` validates only the affected sites,
and the pull-request summary lists which of their objects the change adds, removes or modifies."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from edgeai import catalog, paths
from edgeai.composition import compose
from edgeai.fleet import Environment
from edgeai.objects import object_ref

# Changes to these affect every site: the code and data every render and check depends on.
EVERYTHING = ("src/", "policies/", "environments/schema/", "scripts/tool-versions.env",
              f"charts/{catalog.LIBRARY_CHART}/")


class GitError(RuntimeError):
    pass


def _git(*args: str, binary: bool = False):
    proc = subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, check=False, text=not binary)
    if proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode()
        raise GitError(f"git {' '.join(args)}: {err.strip()}")
    return proc.stdout


def changed_files(rev: str) -> list[str]:
    """Files that differ between REV and the working tree (committed, staged, unstaged or new)."""
    tracked = _git("diff", "--name-only", rev, "--").splitlines()
    untracked = _git("ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(set(tracked) | set(untracked))


@dataclass
class Impact:
    everything: bool = False
    sites: set[tuple[str, str]] = field(default_factory=set)


def impact(envs: Iterable[Environment], files: Iterable[str]) -> Impact:
    """Sites whose rendered objects or checks a set of changed files can alter."""
    envs = list(envs)
    out = Impact()
    for file in files:
        if file.startswith(EVERYTHING):
            out.everything = True
            continue
        parts = file.split("/")
        for env in envs:
            if parts[0] == "charts" and len(parts) > 1:
                out.sites |= {(env.name, s.name) for s in env.sites.values()
                              if any(r.chart == f"charts/{parts[1]}" for r in compose(env, s))}
            elif parts[:2] == ["environments", env.name] and len(parts) > 2:
                if parts[2] == "sites" and len(parts) == 4:
                    name = Path(parts[3]).stem
                    out.sites |= {(env.name, name)} if name in env.sites else set()
                elif parts[2] == "models" and len(parts) == 4 and Path(parts[3]).stem in env.models:
                    model = env.models[Path(parts[3]).stem]
                    out.sites |= {(env.name, s.name) for s in env.sites.values() if s.region in model.regions}
                else:  # environment.yaml, or a deleted model whose sites we no longer know
                    out.sites |= {(env.name, s.name) for s in env.sites.values()}
    return out


def snapshot(rev: str) -> Path:
    """charts/ and environments/ as they were at REV, extracted into a temporary folder."""
    target = Path(tempfile.mkdtemp(prefix="edgeai-base-"))
    data = _git("archive", "--format=tar", rev, "charts", "environments", binary=True)
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(target, filter="data")
    return target


@dataclass
class ObjectChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    fields: dict[str, list] = field(default_factory=dict)   # modified ref -> [gitops.diff.FieldChange]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)


def diff_objects(before: list[dict], after: list[dict]) -> ObjectChanges:
    """Objects added, removed and modified, and the fields each modified one changes."""
    from edgeai.gitops.diff import field_changes

    old, new = ({object_ref(o): o for o in objects} for objects in (before, after))
    modified = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    return ObjectChanges(added=sorted(new.keys() - old.keys()), removed=sorted(old.keys() - new.keys()),
                         modified=modified, fields={k: field_changes(old[k], new[k]) for k in modified})
