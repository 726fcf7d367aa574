"""charts/monitoring checked by promtool of the chart's Prometheus (3.5.0, built from the
Prometheus Go module by scripts/install-engines.sh: Debian's promtool 2.42 lacks Kubernetes service
discovery and Prometheus 3 fields, so it cannot check the rendered config).

For a one-node and a 3-node site: `promtool check config` on the rendered prometheus.yml (with its
rule_files), `promtool check rules` on the rendered rules, and `promtool test rules` on the
chart's unit tests, which run against the same rules file the ConfigMap ships.

Adapted: the rules' mount path /etc/prometheus/rules becomes a temporary directory.
tests/charts/test_monitoring.py runs the same promtool commands with whatever promtool is on PATH
and skips the config check when it is Debian's; it could use engines.promtool_path() instead."""

from __future__ import annotations

import subprocess

import pytest

from edgeai import paths
from tests.realengines import engines
from tests.realengines.engines import LOCAL, PROD_3_NODES

CHART = paths.CHARTS / "monitoring"


def promtool(*args: str, cwd=None) -> str:
    proc = subprocess.run([str(engines.promtool_path()), *args], capture_output=True, text=True, cwd=cwd,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_promtool_is_the_charts_prometheus_version() -> None:
    engines.require("promtool")
    image = engines.container(engines.rendered_site(*LOCAL)["monitoring"], "StatefulSet",
                              "monitoring-prometheus", "prometheus")["image"]
    version = engines.pins()["PROMETHEUS_VERSION"]
    assert image.endswith(f":{version}"), image
    assert f"version {version.lstrip('v')}" in promtool("--version")


@pytest.mark.parametrize("site", [LOCAL, PROD_3_NODES], ids=lambda s: "/".join(s))
def test_promtool_accepts_the_rendered_config_and_rules(site, tmp_path) -> None:
    engines.require("promtool")
    objects = engines.rendered_site(*site)["monitoring"]
    rules = engines.config_map(objects, "monitoring-prometheus-rules")
    assert rules["edgeai.rules.yaml"] == (CHART / "rules" / "edgeai.rules.yaml").read_text()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name, text in rules.items():
        (rules_dir / name).write_text(text)
    config = engines.adapt(engines.config_map(objects, "monitoring-prometheus")["prometheus.yml"],
                           {"/etc/prometheus/rules/": f"{rules_dir}/"}, "prometheus.yml")
    (tmp_path / "prometheus.yml").write_text(config)
    out = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS" in out and "rule files found" in out
    assert "SUCCESS" in promtool("check", "rules", *map(str, sorted(rules_dir.iterdir())))


def test_promtool_runs_the_charts_rule_unit_tests() -> None:
    engines.require("promtool")
    out = promtool("test", "rules", "rules.test.yaml", cwd=CHART / "tests")
    assert "SUCCESS" in out
