"""The Argo CD Applications (and AppProject) the Pulumi site stack builds validate against the
upstream schema: the validators @kubernetes-models/argo-cd generates from Argo CD's own CRDs.

No CRD is copied into this repository: the npm package (pinned) is installed at test time into
~/.cache/edgeai/npm/, and node runs its validator on the objects recorded from the real stack
program under Pulumi's mocks (tests/stacks), for every site of every environment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeai import paths

pytestmark = pytest.mark.integration

# Generated from the CRDs of Argo CD v2.14.11 (its package.json `crd-generate.input`); the sites run
# the argo-cd chart pinned in src/edgeai/platform.yaml (Argo CD 2.x, same Application API).
PACKAGE = "@kubernetes-models/argo-cd"
VERSION = "2.7.2"
VALIDATOR = Path(__file__).with_name("argocd_validate.cjs")
API_VERSION = "argoproj.io/v1alpha1"

sys.path.insert(0, str(paths.ROOT / "tests" / "stacks"))
import stack_cases  # noqa: E402  (the stack runs of tests/stacks, cached per session)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is required to validate Argo CD Applications against the upstream schema "
                    f"(install Node.js 18 or later)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def models() -> Path:
    """The pinned npm package, installed once into the cache (whole installs only)."""
    prefix = paths.CACHE / "npm" / f"argo-cd-models-{VERSION}"
    installed = prefix / "node_modules" / PACKAGE / "package.json"
    if not installed.is_file():
        partial = prefix.with_name(prefix.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        proc = subprocess.run([_tool("npm"), "install", "--prefix", str(partial), "--no-audit", "--no-fund",
                               "--loglevel=error", f"{PACKAGE}@{VERSION}"], capture_output=True, text=True,
                              check=False, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"npm install {PACKAGE}@{VERSION} failed:\n{proc.stderr}", pytrace=False)
        shutil.rmtree(prefix, ignore_errors=True)
        partial.rename(prefix)
    assert json.loads(installed.read_text())["version"] == VERSION
    return prefix


def validate(models: Path, objects: list[dict]) -> list[dict]:
    proc = subprocess.run([_tool("node"), str(VALIDATOR), str(models)], input=json.dumps(objects),
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_validator_rejects_a_broken_application(models) -> None:
    """The validator really validates (a wrong type and a missing required field are caught)."""
    broken = {"apiVersion": API_VERSION, "kind": "Application", "metadata": {"name": "broken"},
              "spec": {"project": "edgeai", "source": {"repoURL": "https://example.com/r.git"},
                       "syncPolicy": {"retry": {"limit": "ten"}}}}
    [result] = validate(models, [broken])
    assert any("/spec/syncPolicy/retry/limit" in e for e in result["errors"]), result
    assert any("destination" in e for e in result["errors"]), result


@pytest.mark.parametrize(("env", "site"), stack_cases.SITES, ids=stack_cases.SITE_IDS)
def test_site_stack_argocd_objects_match_the_upstream_schema(models, env, site) -> None:
    run = stack_cases.site_run(env, site)
    objects = [r.inputs for r in run.resources if r.type.startswith(f"kubernetes:{API_VERSION}:")]
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["AppProject", "Application"], kinds
    assert all(o["apiVersion"] == API_VERSION for o in objects)
    failures = [r for r in validate(models, objects) if r["errors"]]
    assert not failures, json.dumps(failures, indent=2)
