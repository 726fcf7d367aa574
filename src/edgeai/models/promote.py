"""Promotion of a registered model version as a reviewed change.

`edgeai models promote --env E MODEL [--version N] [--weight W]` writes the version's artifact as the
model's `canary: {uri, weight}`; `--complete` makes the canary the stable `uri` and its training
distribution (the registry's record) the model's `drift.reference`; `--rollback` removes it. Each
change is made in a temporary git worktree of HEAD (the user's working tree and branch are not
touched): the model file is edited, deploy/<E>/ re-rendered (`edgeai gitops render`), the gate run
(`edgeai validate`), and both committed on a new branch `promote/<model>-v<N>[-complete|-rollback]`
that exists only when the gate passed. What is printed (the gate's summary, `edgeai gitops diff`
Markdown) is the pull request's description.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from edgeai import catalog, paths
from edgeai.models import modelfile

VERSION_NOTE = re.compile(r"# MLflow version (\d+)\b")
DEFAULT_WEIGHT = 10


class PromoteError(RuntimeError):
    """Bad input: nothing was written."""


class GateFailed(RuntimeError):
    """The change does not pass the gate: no branch was made."""


@dataclass(frozen=True)
class Change:
    env: str
    model: str
    fields: dict            # top-level fields of the model file to set (None: remove)
    comments: dict          # new line comments
    branch: str
    message: str


@dataclass(frozen=True)
class Result:
    branch: str
    commit: str
    base: str
    gate: str               # the gate's summary
    diff: str               # edgeai gitops diff Markdown


def _git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise PromoteError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def model_file(root: Path, env: str, model: str) -> Path:
    env_dir = root / "environments" / env
    if not (env_dir / "environment.yaml").is_file():
        raise PromoteError(f"no environment '{env}' under {root / 'environments'}")
    path = env_dir / "models" / f"{model}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (env_dir / "models").glob("*.yaml"))
        raise PromoteError(f"no model '{model}' in environment '{env}' (models: {', '.join(known) or 'none'})")
    return path


def artifacts_destination(root: Path, env: str) -> str:
    """Where the environment's MLflow keeps artifacts, as the sites fetch them: s3://<bucket>/mlflow,
    the bucket being cloud.objectStore or edgeai-<env>-landing (stacks/training/training.py plan)."""
    declared = (yaml.safe_load((root / "environments" / env / "environment.yaml").read_text()) or {})
    store = (declared.get("cloud") or {}).get("objectStore") or f"s3://edgeai-{env}-landing"
    return f"{store.rstrip('/')}/{catalog.MLFLOW_PREFIX}"


def served_uri(source: str, destination: str) -> str:
    """A version's source as a URI the model-serving chart fetches: mlflow-artifacts:/<path> (the
    tracking server proxies its artifact store) is <destination>/<path>; s3/gs/https as they are."""
    if source.startswith("mlflow-artifacts:"):
        path = re.sub(r"^mlflow-artifacts:(//[^/]*)?/", "", source)
        return f"{destination.rstrip('/')}/{path}"
    if source.startswith(("s3://", "gs://", "https://")):
        return source
    raise PromoteError(f"version source {source} is not in an object store the sites can fetch from")


def plan_canary(root: Path, env: str, model: str, version: str | None, weight: int, client,
                destination: str | None) -> Change:
    from edgeai.retrain import registry

    path = model_file(root, env, model)
    if not 1 <= weight <= 100:
        raise PromoteError(f"--weight {weight}: a canary takes 1 to 100 percent of the requests")
    every = registry.versions(client, model)
    if not every:
        raise PromoteError(f"'{model}' has no version in the registry at {client.tracking_uri}")
    mv = every[-1] if version is None else registry.version(client, model, version)
    if mv is None:
        raise PromoteError(f"version {version} of '{model}' is not in the registry "
                           f"(versions: {', '.join(v.version for v in every)})")
    verdict = mv.tags.get(registry.TAG_VERDICT)
    if verdict != "better":
        raise PromoteError(f"version {mv.version} of '{model}' was not registered as better than the version "
                           f"before it ({registry.TAG_VERDICT}={verdict or 'unset'}): only versions that "
                           "python -m edgeai.retrain registered as better are promoted")
    uri = served_uri(mv.source, destination or artifacts_destination(root, env))
    current = yaml.safe_load(path.read_text())
    if uri == current.get("uri"):
        raise PromoteError(f"version {mv.version} of '{model}' is already its stable version in {env}")
    if (current.get("canary") or {}).get("uri") == uri and current["canary"].get("weight") == weight:
        raise PromoteError(f"version {mv.version} of '{model}' is already its canary in {env} at {weight}%")
    note = f"MLflow version {mv.version}"
    metric = mv.tags.get(registry.TAG_METRIC)
    detail = (f"\n\n{metric} {float(mv.tags[registry.TAG_VALUE]):.4f} against "
              f"{float(mv.tags[registry.TAG_BASELINE_VALUE]):.4f} of version {mv.tags[registry.TAG_BASELINE_VERSION]} "
              "on the held-out slice." if metric else "")
    # version: what the canary's server reports as model_version (the URI alone ends in /model).
    return Change(env, model, {"canary": {"uri": uri, "weight": weight, "version": mv.version}}, {"canary": note},
                  f"promote/{model}-v{mv.version}",
                  f"{model}: version {mv.version} as the canary in {env} at {weight}%{detail}\n\nsource: {mv.source}")


def _canary_version(text: str) -> str | None:
    """The canary's registry version: its `version`, or the note of a canary written before it had one."""
    canary = (yaml.safe_load(text) or {}).get("canary") or {}
    if "version" in canary:
        return str(canary["version"])
    for line in text.splitlines():
        if line.startswith("canary:") and (m := VERSION_NOTE.search(line)):
            return m.group(1)
    return None


def canary_version(root: Path, env: str, model: str) -> str | None:
    """The registry version of the model's canary, when `edgeai models promote` wrote it."""
    return _canary_version(model_file(root, env, model).read_text())


def drift_reference(mv) -> list[float] | None:
    """A version's training distribution (registry tag edgeai.predictions) as the model file's
    drift.reference: the share of its scores per bin of 0.1. None when it recorded none, or its
    scores are not in [0, 1] (the bins the sites count are fixed)."""
    from edgeai.retrain import registry

    recorded = json.loads(mv.tags.get(registry.TAG_PREDICTIONS) or "{}")
    counts = recorded.get("counts") or []
    if recorded.get("edges") != [round(i / 10, 6) for i in range(11)] or not sum(counts):
        return None
    return [round(c / sum(counts), 4) for c in counts]


def plan_end(root: Path, env: str, model: str, *, complete: bool, client=None) -> Change:
    """--complete (the canary becomes the stable uri, its training distribution the drift reference,
    read from the registry `client`) or --rollback (the canary goes)."""
    path = model_file(root, env, model)
    text = path.read_text()
    current = yaml.safe_load(text) or {}
    canary = current.get("canary")
    if not canary:
        raise PromoteError(f"'{model}' has no canary in {env}: nothing to {'complete' if complete else 'roll back'}")
    version = _canary_version(text)
    tag = f"v{version}" if version else "canary"
    if complete:
        from edgeai.retrain import registry

        mv = None
        if version and client is not None:
            mv = registry.version(client, model, version)
            if mv is None:   # gone, or the registry does not answer: never guess the reference
                raise PromoteError(f"version {version} of '{model}' (the canary) cannot be read from the registry "
                                   f"at {client.tracking_uri}")
        reference = drift_reference(mv) if mv is not None else None
        # The old reference was the replaced version's: kept, it would compare with the wrong distribution.
        drift = {**(current.get("drift") or {}), "reference": reference} if reference else None
        note = (f"drift reference: the training distribution of MLflow version {version}" if reference else
                "no drift check: the new version recorded no distribution of scores in [0, 1]")
        comments = {"uri": f"MLflow version {version}", "drift": f"MLflow version {version}"} if version else {}
        fields = {"uri": canary["uri"], "version": canary.get("version"), "canary": None, "drift": drift}
        return Change(env, model, fields, comments,
                      f"promote/{model}-{tag}-complete",
                      f"{model}: the canary ({tag}) becomes the stable version in {env}\n\n"
                      f"uri: {canary['uri']}\n{note}")
    return Change(env, model, {"canary": None}, {}, f"promote/{model}-{tag}-rollback",
                  f"{model}: roll back the canary ({tag}) in {env}\n\nremoved: {canary['uri']} at {canary['weight']}%")


def _edgeai(tree: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI on `tree`, as CI runs it on a pull request's checkout."""
    return subprocess.run([sys.executable, "-m", "edgeai.cli", *args], cwd=tree, capture_output=True, text=True,
                          env={**os.environ, "EDGEAI_ROOT": str(tree)}, check=False)


def check_clean(root: Path, env: str) -> None:
    dirty = _git(root, "status", "--porcelain", "--", f"environments/{env}", f"deploy/{env}").strip()
    if dirty:
        raise PromoteError(f"uncommitted changes under environments/{env} or deploy/{env} (commit or stash them: "
                           f"the promotion is made from the last commit):\n{dirty}")


def apply(root: Path, change: Change) -> Result:
    """Make `change` on a new branch from HEAD, through a temporary worktree; the branch exists only if
    the render and the gate passed."""
    check_clean(root, change.env)
    if _git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{change.branch}", check=False).strip():
        raise PromoteError(f"branch {change.branch} exists already (delete it, or promote another version)")
    base = _git(root, "rev-parse", "HEAD").strip()
    with tempfile.TemporaryDirectory(prefix="edgeai-promote-") as tmp:
        tree = Path(tmp) / "tree"
        _git(root, "worktree", "add", "--quiet", "--detach", str(tree), base)
        try:
            relative = Path("environments") / change.env / "models" / f"{change.model}.yaml"
            edited = tree / relative
            try:
                edited.write_text(modelfile.set_fields(edited.read_text(), change.fields, change.comments))
            except ValueError as err:
                raise PromoteError(f"{relative}: {err}") from None
            render = _edgeai(tree, "gitops", "render", "--env", change.env)
            if render.returncode != 0:
                raise GateFailed(f"edgeai gitops render --env {change.env} failed:\n{render.stdout}{render.stderr}")
            gate = _edgeai(tree, "validate", "--env", change.env)
            if gate.returncode != 0:
                raise GateFailed(f"edgeai validate --env {change.env} rejects the change:\n{gate.stdout}{gate.stderr}")
            _git(tree, "add", "--", str(relative), f"deploy/{change.env}")
            _git(tree, "commit", "--quiet", "-m", change.message)
            commit = _git(tree, "rev-parse", "HEAD").strip()
            diff = _edgeai(tree, "gitops", "diff", "--base", base, "--head", commit, "--env", change.env)
            _git(root, "branch", change.branch, commit)
        finally:
            _git(root, "worktree", "remove", "--force", str(tree), check=False)
            _git(root, "worktree", "prune", check=False)
    return Result(change.branch, commit, base, gate.stdout.strip(), diff.stdout.strip() or diff.stderr.strip())


def root() -> Path:
    return paths.ROOT
