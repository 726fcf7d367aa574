"""The gate end to end on a copy of the `local` environment: violations, waivers, outputs, exit codes.

The copy drops what the shipped `local` adds for a developer's machine (its component overrides in the
environment and site files, such as the gateway and Kafka's device listener on node ports, and the
waivers that go with them), so each test starts from one plain clean site and adds exactly the
overrides and waivers it is about.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from edgeai import cli, fleet, paths
from edgeai.validate import Selection, validate

# A Service on the nodes names the networks that may call it (networkPolicy.exposedTo).
NODEPORT = ("components:\n  gateway:\n    service:\n      type: NodePort\n"
            "    networkPolicy:\n      exposedTo: [192.168.10.0/24]\n")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(paths.ENVIRONMENTS / "local", tmp_path / "local")
    env_file = tmp_path / "local" / "environment.yaml"
    header, _, _ = env_file.read_text().partition("\n")
    config = yaml.safe_load(env_file.read_text())
    for key in ("components", "waivers"):
        config.pop(key, None)
    env_file.write_text(header + "\n" + yaml.safe_dump(config, sort_keys=False))
    for site_file in (tmp_path / "local" / "sites").glob("*.yaml"):
        header, _, _ = site_file.read_text().partition("\n")
        config = yaml.safe_load(site_file.read_text())
        config.pop("components", None)
        site_file.write_text(header + "\n" + yaml.safe_dump(config, sort_keys=False))
    return tmp_path


def append(root: Path, text: str) -> None:
    env_file = root / "local" / "environment.yaml"
    env_file.write_text(env_file.read_text() + text)


def waiver(rule: str, expires: str, obj: str | None = None) -> str:
    target = f"\n    object: {obj}" if obj else ""
    return (f"waivers:\n  - rule: {rule}\n    site: local{target}\n"
            f"    reason: devices on the shop LAN call the gateway directly\n    expires: \"{expires}\"\n")


def run(root: Path, today: dt.date = dt.date(2026, 11, 22)):
    return validate(fleet.load_fleet(root=root), Selection(), today=today)


def test_shipped_local_passes_with_its_waivers() -> None:
    """The shipped `local` exposes services on node ports (the kind node maps them to the developer's
    host), each waived by name; nothing unwaived is found."""
    report = validate(fleet.load_fleet(["local"]), Selection(), today=dt.date(2026, 11, 22))
    assert report.exit_code == 0 and report.objects > 0
    assert report.findings and all(f.waived and f.object for f in report.findings)


def test_plain_local_is_clean(root: Path) -> None:
    report = run(root)
    assert report.exit_code == 0 and report.findings == [] and report.objects > 0


def test_a_violation_names_rule_site_object_and_release(root: Path) -> None:
    append(root, NODEPORT)
    report = run(root)
    assert report.exit_code == 1
    [f] = [f for f in report.errors if f.rule == "EAI-NET-002"]
    assert (f.environment, f.site, f.object, f.release) == (
        "local", "local", "Service/edgeai-gateway/gateway-external", "gateway")
    assert "NodePort" in f.message


def test_a_waiver_with_reason_and_expiry_waives(root: Path) -> None:
    append(root, NODEPORT + waiver("EAI-NET-002", "2027-03-01", "Service/edgeai-gateway/gateway-external"))
    report = run(root)
    assert report.exit_code == 0
    [f] = [f for f in report.findings if f.rule == "EAI-NET-002"]
    assert f.waived.startswith("devices on the shop LAN")


def test_an_expired_waiver_is_a_violation_and_waives_nothing(root: Path) -> None:
    append(root, NODEPORT + waiver("EAI-NET-002", "2026-11-01"))
    report = run(root)
    rules = {f.rule for f in report.errors}
    assert {"EAI-NET-002", "EAI-WVR-001"} <= rules
    [expired] = [f for f in report.errors if f.rule == "EAI-WVR-001"]
    assert "expired on 2026-11-01" in expired.message and expired.line is not None


def test_an_unused_waiver_is_a_violation(root: Path) -> None:
    append(root, waiver("EAI-NET-002", "2027-03-01"))
    report = run(root)
    [f] = report.errors
    assert f.rule == "EAI-WVR-002" and "matches no violation" in f.message


def test_unused_waivers_are_not_judged_on_a_partial_run(root: Path) -> None:
    append(root, waiver("EAI-NET-002", "2027-03-01"))
    report = validate(fleet.load_fleet(root=root), Selection(site="local"), today=dt.date(2026, 11, 22))
    assert report.exit_code == 0


def test_cli_outputs(root: Path, tmp_path_factory, capsys) -> None:
    append(root, NODEPORT)
    junit_file = tmp_path_factory.mktemp("reports") / "ci" / "report.xml"
    assert cli.main(["--environments", str(root), "validate", "--junit", str(junit_file)]) == 1
    table = capsys.readouterr().out
    assert "EAI-NET-002" in table and "FAILED" in table
    suite = ET.parse(junit_file).getroot().find("testsuite")
    assert suite.get("failures") == "1" and "EAI-NET-002" in suite.find("testcase/failure").text

    assert cli.main(["--environments", str(root), "validate", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and any(v["rule"] == "EAI-NET-002" for v in data["violations"])

    assert cli.main(["--environments", str(root), "validate", "--markdown"]) == 1
    md = capsys.readouterr().out
    assert "EAI-NET-002" in md and "*Why:*" in md and "*Fix:*" in md and "local/local" in md


def test_custom_resources_without_a_schema_are_reported_unchecked(root: Path, capsys) -> None:
    append(root, "components:\n  model-serving:\n    seldonCore2:\n      enabled: true\n")
    report = run(root)
    assert report.unchecked.get("Model", 0) >= 1
    assert cli.main(["--environments", str(root), "validate"]) in (0, 1)
    assert "not schema-checked (no schema for the kind)" in capsys.readouterr().out
