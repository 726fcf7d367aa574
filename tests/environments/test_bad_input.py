"""Bad environment files: each is reported with file, line, YAML path and what was expected.

Each case starts from a copy of the shipped `staging` environment and breaks one thing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeai import cli, fleet, paths
from edgeai.problems import InputErrors


@pytest.fixture
def fleet_root(tmp_path: Path) -> Path:
    shutil.copytree(paths.ENVIRONMENTS / "staging", tmp_path / "staging")
    return tmp_path


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / "staging" / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def problems_of(root: Path) -> list[str]:
    with pytest.raises(InputErrors) as caught:
        fleet.load_fleet(root=root)
    return [str(p) for p in caught.value.problems]


Mutation = Callable[[Path], None]

CASES: dict[str, tuple[Mutation, str]] = {
    "misspelt key": (
        lambda r: edit(r, "sites/stg-eu-1.yaml", "storageClass:", "storageClas:"),
        "sites/stg-eu-1.yaml:9: storageClas: unknown key 'storageClas' (fix: did you mean 'storageClass'?)"),
    "wrong type": (
        lambda r: edit(r, "sites/stg-eu-1.yaml", "cpu: 8", "cpu: eight"),
        "sites/stg-eu-1.yaml:6: nodes.cpu: expected integer, got a string \"eight\""),
    "negative replicas": (
        lambda r: (edit(r, "models/sensor-anomaly.yaml", "regions:", "replicas: -2\nregions:")),
        "models/sensor-anomaly.yaml:5: replicas: expected a value >= 1, got -2"),
    "unknown framework": (
        lambda r: edit(r, "models/sensor-anomaly.yaml", "framework: sklearn", "framework: sklern"),
        "models/sensor-anomaly.yaml:3: framework: expected one of sklearn, xgboost, lightgbm, mlflow, "
        "huggingface, onnx, pytorch, tensorflow; got \"sklern\" (fix: did you mean 'sklearn'?)"),
    "duplicate site name": (
        lambda r: (shutil.copy(r / "staging/sites/stg-eu-1.yaml", r / "staging/sites/stg-eu-2.yaml")),
        "sites/stg-eu-2.yaml:2: name: duplicate site name 'stg-eu-1' (also in stg-eu-1.yaml)"),
    "model in a region with no site": (
        lambda r: edit(r, "models/demand-forecast.yaml", "[eu-central, us-east]", "[eu-central, sa-east]"),
        "models/demand-forecast.yaml:5: regions[1]: no site of environment 'staging' is in region "
        "'sa-east'"),
    "GPU model where no site has GPUs": (
        lambda r: edit(r, "models/defect-vision.yaml", "regions: [us-east]", "regions: [eu-central]"),
        "models/defect-vision.yaml:6: gpu: needs 1 GPU(s) per replica but the sites of its regions have "
        "at most 0 per node, so it runs nowhere"),
    "malformed YAML": (
        lambda r: edit(r, "sites/stg-ap-1.yaml", "  cpu: 4", "  cpu: [4"),
        "sites/stg-ap-1.yaml:"),
    "empty file": (
        lambda r: (r / "staging/models/empty.yaml").write_text("\n# nothing yet\n"),
        "models/empty.yaml:1: (document): the file is empty; expected a YAML mapping"),
    "missing required key": (
        lambda r: edit(r, "sites/stg-ap-1.yaml", "region: ap-southeast\n", ""),
        "sites/stg-ap-1.yaml:1: (document): missing required key 'region' (fix: add 'region:')"),
    "site name differs from file name": (
        lambda r: edit(r, "sites/stg-ap-1.yaml", "name: stg-ap-1", "name: stg-ap-9"),
        "sites/stg-ap-1.yaml:2: name: site name 'stg-ap-9' differs from the file name 'stg-ap-1'"),
    "production tracks a branch": (
        lambda r: edit(r, "environment.yaml", "tier: staging", "tier: production"),
        "environment.yaml:8: gitops.targetRevision: production sites must sync a tag or a commit, "
        "not 'main'"),
    "replication factor over brokers": (
        lambda r: edit(r, "sites/stg-eu-1.yaml", "storageClass: local-path",
                       "storageClass: local-path\ncomponents:\n  kafka:\n    replicationFactor: 3"),
        "sites/stg-eu-1.yaml:12: components.kafka.replicationFactor: replication factor 3 exceeds the 1 "
        "broker(s) of site 'stg-eu-1'"),
    "canary weight over 100": (
        lambda r: edit(r, "models/demand-forecast.yaml", "weight: 20", "weight: 120"),
        "models/demand-forecast.yaml:6: canary.weight: expected a value <= 100, got 120"),
    "missing editor header": (
        lambda r: edit(r, "models/sensor-anomaly.yaml", "# yaml-language-server: $schema=", "# schema: "),
        "models/sensor-anomaly.yaml:1: (document): line 1 is not the editor schema header"),
    "unknown component": (
        lambda r: edit(r, "environment.yaml", "images:", "components:\n  kafak: {}\nimages:"),
        "environment.yaml:12: components.kafak: unknown key 'kafak' (fix: did you mean 'kafka'?)"),
    "duplicate key": (
        lambda r: edit(r, "sites/stg-eu-1.yaml", "region: eu-central", "region: eu-central\nregion: us-east"),
        "sites/stg-eu-1.yaml:4: (document): malformed YAML: found duplicate key"),
    "memory without unit": (
        lambda r: edit(r, "sites/stg-eu-1.yaml", "memory: 32Gi", "memory: 32GB"),
        "sites/stg-eu-1.yaml:7: nodes.memory: \"32GB\" does not have the expected form"),
    "list instead of mapping": (
        lambda r: (r / "staging/models/listy.yaml").write_text("- name: x\n"),
        "models/listy.yaml:1: (document): expected a YAML mapping at the top level, got a list"),
    "CEP model not placed": (
        lambda r: edit(r, "models/sensor-anomaly.yaml", "[eu-central, us-east, ap-southeast]", "[eu-central]"),
        "sites/stg-ap-1.yaml:3: region: the CEP app of site 'stg-ap-1' calls model 'sensor-anomaly', which "
        "is not placed on that site"),
    "environment name differs from folder": (
        lambda r: edit(r, "environment.yaml", "name: staging", "name: stage"),
        "environment.yaml:2: name: name 'stage' differs from the folder 'staging'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_located_and_explained(fleet_root: Path, case: str) -> None:
    mutate, expected = CASES[case]
    mutate(fleet_root)
    problems = problems_of(fleet_root)
    assert any(expected in p for p in problems), f"{expected!r} not in {problems}"
    # Every problem names a file under the fleet and a line.
    for p in problems:
        assert str(fleet_root / "staging") in p and ":" in p


@pytest.mark.parametrize("cases", [
    # file-level problems in three files
    ("misspelt key", "unknown framework", "canary weight over 100", "empty file"),
    # cross-file problems (checked once every file is well-formed)
    ("production tracks a branch", "model in a region with no site", "replication factor over brokers"),
])
def test_every_problem_of_a_run_is_reported(fleet_root: Path, cases: tuple[str, ...]) -> None:
    for case in cases:
        CASES[case][0](fleet_root)
    problems = problems_of(fleet_root)
    for case in cases:
        assert any(CASES[case][1] in p for p in problems), case
    assert len(problems) == len(cases), problems


def test_cli_exits_2_and_prints_each_problem(fleet_root: Path, capsys) -> None:
    CASES["misspelt key"][0](fleet_root)
    CASES["unknown framework"][0](fleet_root)
    code = cli.main(["--environments", str(fleet_root), "validate"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown key 'storageClas'" in err and "did you mean 'sklearn'" in err


def test_json_report_lists_input_errors(fleet_root: Path, capsys) -> None:
    import json
    CASES["negative replicas"][0](fleet_root)
    assert cli.main(["--environments", str(fleet_root), "validate", "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    [error] = report["inputErrors"]
    assert error["path"] == "replicas" and error["line"] == 5 and error["file"].endswith("sensor-anomaly.yaml")


def test_unknown_environment_is_a_usage_error(capsys) -> None:
    assert cli.main(["validate", "--env", "nope"]) == 2
    assert "no environment 'nope'" in capsys.readouterr().err
