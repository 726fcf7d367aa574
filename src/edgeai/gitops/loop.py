"""The local site's GitOps loop driven as a developer and CI drive it: in a clone of the repository the
site's Git server serves, change a model file, render deploy/, run the gate, commit, push (only when
the gate passes), then follow the root Application until it has synced the commit.

Used by tests/e2e/test_gitops.py and scripts/bench_gitops.py; the CLI runs on the clone
(EDGEAI_ROOT), as CI runs it on a pull request's checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from edgeai.cluster.kube import Kubectl, wait_for
from edgeai.fleet import Environment, Site
from edgeai.gitops import gitserver
from edgeai.gitops import local as gitops_local


class GateRejected(RuntimeError):
    """The change fails the gate (or deploy/ is stale): CI does not merge it."""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _flow(value) -> str:
    """A value as one line of YAML (`{uri: ..., weight: 30}`; a scalar without the document end)."""
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()


class Loop:
    def __init__(self, env: Environment, site: Site, kubectl: Kubectl, clone: Path):
        self.env, self.site, self.kubectl, self.clone = env, site, kubectl, clone
        self.poll = env.gitops.get("pollSeconds") or 10

    @classmethod
    def clone_served(cls, env: Environment, site: Site, kubectl: Kubectl, into: Path) -> Loop:
        subprocess.run(["git", "clone", "-q", "--branch", gitserver.BRANCH, str(gitserver.repository()),
                        str(into)], check=True)
        _git(into, "config", "user.email", "gitops-loop@localhost")
        _git(into, "config", "user.name", "gitops loop")
        return cls(env, site, kubectl, into)

    def edgeai(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "edgeai.cli", *args], cwd=self.clone, capture_output=True,
                              text=True, timeout=timeout, check=False,
                              env={**os.environ, "EDGEAI_ROOT": str(self.clone)})

    # --- the change --------------------------------------------------------------------------
    def model_file(self, model: str) -> Path:
        return self.clone / "environments" / self.env.name / "models" / f"{model}.yaml"

    def model(self, model: str) -> dict:
        return yaml.safe_load(self.model_file(model).read_text())

    def set_model(self, model: str, **fields) -> None:
        """Set (or, with None, remove) top-level fields of a model file, keeping its other lines."""
        path = self.model_file(model)
        lines = [line for line in path.read_text().splitlines() if line.split(":")[0] not in fields]
        lines += [f"{k}: {_flow(v)}" for k, v in fields.items() if v is not None]
        path.write_text("\n".join(lines) + "\n")

    def discard(self) -> None:
        _git(self.clone, "checkout", "-q", "--", "environments", "deploy")

    # --- CI and the merge --------------------------------------------------------------------
    def gate(self) -> tuple[bool, str]:
        """What CI runs on the change: the gate, then deploy/ must be what the change renders."""
        validate = self.edgeai("validate", "--env", self.env.name)
        check = self.edgeai("gitops", "render", "--env", self.env.name, "--check")
        return (validate.returncode == 0 and check.returncode == 0,
                validate.stdout + validate.stderr + check.stdout + check.stderr)

    def commit(self, message: str) -> str:
        proc = self.edgeai("gitops", "render", "--env", self.env.name)
        if proc.returncode != 0:
            raise RuntimeError(f"edgeai gitops render failed:\n{proc.stderr}")
        _git(self.clone, "add", "-A", "environments", "deploy")
        _git(self.clone, "commit", "-q", "-m", message)
        return _git(self.clone, "rev-parse", "HEAD").strip()

    def push(self) -> float:
        """Push HEAD to the branch the site tracks; returns the time of the push (time.monotonic)."""
        _git(self.clone, "push", "-q", str(gitserver.repository()), f"HEAD:{gitserver.BRANCH}")
        return time.monotonic()

    def merge(self) -> float:
        """CI's merge: the push happens only when the gate passes."""
        ok, why = self.gate()
        if not ok:
            raise GateRejected(why)
        return self.push()

    # --- the site ----------------------------------------------------------------------------
    def served(self) -> str:
        return _git(gitserver.repository(), "rev-parse", gitserver.BRANCH).strip()

    def synced(self) -> tuple[str, str, str]:
        """(revision, sync status, health) of the site's root Application."""
        return gitops_local.synced_revision(self.kubectl, self.site) or ("", "", "")

    def wait_synced(self, revision: str, timeout: float = 300) -> float:
        """Seconds until the root Application has synced `revision` and is Synced."""
        started = time.monotonic()
        wait_for(f"Argo CD to sync {revision[:12]}",
                 lambda: (s := self.synced())[0] == revision and s[1] == "Synced" and s, timeout, interval=1)
        return time.monotonic() - started
