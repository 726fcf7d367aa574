"""The engines the tests prove the charts with are the versions the charts run: the pins
in scripts/tool-versions.env against the image tags the charts render (needs no engine)."""

from __future__ import annotations

import re

import yaml

from edgeai import paths
from tests.realengines import engines


def chart_values(chart: str) -> dict:
    return yaml.safe_load((paths.CHARTS / chart / "values.yaml").read_text())


def test_engine_pins_match_the_charts_images() -> None:
    pins = engines.pins()
    assert chart_values("kafka")["image"]["tag"] == pins["KAFKA_VERSION"]
    assert chart_values("model-serving")["images"]["mlserver"]["tag"] == pins["MLSERVER_VERSION"]
    assert chart_values("monitoring")["prometheus"]["image"]["tag"] == pins["PROMETHEUS_VERSION"]
    assert chart_values("monitoring")["alertmanager"]["image"]["tag"] == pins["ALERTMANAGER_VERSION"]
    # Prometheus 3.x is published as Go module v0.3xx.y: 3.5.0 -> v0.305.0.
    major, minor, patch = pins["PROMETHEUS_VERSION"].lstrip("v").split(".")
    assert pins["PROMETHEUS_MODULE_VERSION"] == f"v0.{int(major) * 100 + int(minor)}.{patch}"
    # The Siddhi runner image is 5.1.x; the engine proven is the 5.1 line too.
    assert chart_values("siddhi")["image"]["tag"].split(".")[:2] == pins["SIDDHI_VERSION"].split(".")[:2]


def test_maven_pins_are_passed_to_the_pom_not_duplicated_in_it() -> None:
    pom = (paths.ROOT / "tools" / "engines" / "pom.xml").read_text()
    for prop in ("kafka.version", "siddhi.version", "siddhi-map-json.version", "siddhi-map-keyvalue.version",
                 "siddhi-execution-math.version", "jedis.version"):
        assert f"${{{prop}}}" in pom and f"<{prop}>" not in pom, prop
    script = engines.INSTALL_SCRIPT.read_text()
    for prop, pin in (("kafka.version", "KAFKA_VERSION"), ("siddhi.version", "SIDDHI_VERSION"),
                      ("siddhi-execution-math.version", "SIDDHI_EXECUTION_MATH_VERSION"),
                      ("jedis.version", "JEDIS_VERSION")):
        assert re.search(rf'-D{re.escape(prop)}="\${pin}"', script), prop
