"""The CLI surface and tool discovery (no chart rendering here)."""

from __future__ import annotations

import pytest

from edgeai import cli, tools


@pytest.mark.parametrize("command", [[], ["render"], ["lint"], ["validate"]])
def test_every_command_has_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*command, "--help"])
    assert done.value.code == 0
    assert "usage: edgeai" in capsys.readouterr().out


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["render", "--env", "local"])  # --site missing
    assert done.value.code == 2
    assert "--site" in capsys.readouterr().err


def test_unknown_site_is_an_input_error(capsys) -> None:
    assert cli.main(["render", "--env", "local", "--site", "mars"]) == 2
    err = capsys.readouterr().err
    assert "no site 'mars' in environment 'local'" in err and "sites: local" in err


def test_render_lists_releases_waves_and_placement(capsys) -> None:
    import yaml
    assert cli.main(["render", "--env", "prod", "--site", "pit-plant-01"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["placement"] == ["defect-vision", "demand-forecast", "sensor-anomaly", "ticket-intent"]
    waves = {r["name"]: r["syncWave"] for r in doc["releases"]}
    assert waves["kafka"] < waves["siddhi"] and waves["model-defect-vision"] < waves["gateway"]
    kafka = next(r for r in doc["releases"] if r["name"] == "kafka")
    assert kafka["values"]["brokers"] == 3 and kafka["chart"] == "charts/kafka"


def test_missing_tool_names_the_install_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))            # no helm on PATH
    monkeypatch.setattr(tools.paths, "CACHE", tmp_path)  # and none cached
    with pytest.raises(tools.ToolMissing, match=r"helm v\d+\.\d+\.\d+ is not installed.*"
                                                r"bash scripts/bootstrap-tools.sh"):
        tools.find.__wrapped__("helm")


def test_tool_on_path_at_another_version_is_not_used(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\necho v0.0.1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools.paths, "CACHE", tmp_path / "empty")
    with pytest.raises(tools.ToolMissing, match="found .*/helm at another version"):
        tools.find.__wrapped__("helm")
