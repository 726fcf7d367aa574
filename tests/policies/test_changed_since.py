"""`edgeai validate --changed-since` on a real clone: only the affected sites, and their object changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeai import paths


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(paths.ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "config", "user.email", "t@example.com"], check=True)
    subprocess.run(["git", "-C", str(target), "config", "user.name", "t"], check=True)
    return target


def validate(clone: Path, *args: str) -> tuple[int, dict]:
    env = {**os.environ, "EDGEAI_ROOT": str(clone)}
    proc = subprocess.run([sys.executable, "-m", "edgeai.cli", "validate", "--json", "--changed-since", "HEAD",
                           *args], cwd=clone, env=env, capture_output=True, text=True)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {"stderr": proc.stderr}


def edit(clone: Path, rel: str, old: str, new: str) -> None:
    path = clone / rel
    path.write_text(path.read_text().replace(old, new, 1))


def reset(clone: Path) -> None:
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "--", "."], check=True)
    subprocess.run(["git", "-C", str(clone), "clean", "-qfd", "environments"], check=True)


def test_nothing_changed_validates_nothing(clone: Path) -> None:
    code, report = validate(clone)
    assert code == 0 and report["sites"] == []


def test_a_site_file_affects_that_site(clone: Path) -> None:
    edit(clone, "environments/prod/sites/fra-store-001.yaml", "cpu: 8", "cpu: 12")
    try:
        code, report = validate(clone)
    finally:
        reset(clone)
    assert code == 0 and report["sites"] == ["prod/fra-store-001"]


def test_an_environment_file_affects_its_sites(clone: Path) -> None:
    edit(clone, "environments/staging/environment.yaml", "selfHeal: true", "selfHeal: false")
    try:
        code, report = validate(clone)
    finally:
        reset(clone)
    assert sorted(report["sites"]) == ["staging/stg-ap-1", "staging/stg-eu-1", "staging/stg-us-1"]


def test_a_chart_affects_every_site_using_it(clone: Path) -> None:
    edit(clone, "charts/redis/values.yaml", "appendfsync", "appendfsync")  # touch: any change counts
    (clone / "charts/redis/templates/NOTES.txt").write_text("Redis for {{ .Values.global.site }}\n")
    try:
        code, report = validate(clone)
    finally:
        subprocess.run(["git", "-C", str(clone), "clean", "-qf", "charts/redis/templates"], check=True)
        reset(clone)
    assert len(report["sites"]) == 16


def test_a_model_file_affects_the_sites_of_its_regions(clone: Path) -> None:
    edit(clone, "environments/prod/models/ticket-intent.yaml", "s3://edgeai-models/ticket-intent/v2",
         "s3://edgeai-models/ticket-intent/v3")
    try:
        code, report = validate(clone)
    finally:
        reset(clone)
    us_east = {"prod/atl-store-003", "prod/bos-store-002", "prod/nyc-store-001", "prod/pit-plant-01"}
    assert set(report["sites"]) == us_east
