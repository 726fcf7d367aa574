"""Chart tests render with the real helm binary (installed by scripts/bootstrap-tools.sh).

The helpers every chart test shares live here, imported as `from tests.charts.conftest import ...`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgeai import capacity, helm, paths, podsecurity
from edgeai.ports import free_port  # noqa: F401 (the chart tests take it from here)

# What edgeai-common's `edgeai.podSecurityContext` / `edgeai.containerSecurityContext` render, and every
# chart uses for its restricted workloads: Pod Security `restricted` plus a read-only root filesystem.
POD_SECURITY_CONTEXT = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY_CONTEXT = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                              "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                              "seccompProfile": {"type": "RuntimeDefault"}}
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def render(chart: str, values: dict[str, Any] | None = None, release: str | None = None,
           namespace: str = "edgeai-test") -> list[dict[str, Any]]:
    """Objects `helm template` renders for charts/<chart> with the given values."""
    return helm.template(paths.CHARTS / chart, release or chart, namespace, values or {})


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """Objects of a kind (and name, when given)."""
    return [o for o in objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pod spec of every workload (any kind edgeai.capacity.pod_spec knows), keyed "Kind/name"."""
    specs: dict[str, dict[str, Any]] = {}
    for obj in objects:
        spec = capacity.pod_spec(obj)
        if spec is None:
            continue
        key = f"{obj['kind']}/{obj['metadata']['name']}"
        assert key not in specs, f"{key} is rendered twice"
        specs[key] = spec
    return specs


def pod_annotations(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The pod template annotations of every workload, keyed "Kind/name" like pod_specs."""
    out = {}
    for obj in objects:
        if capacity.pod_spec(obj) is None:
            continue
        if obj["kind"] == "Pod":
            metadata = obj["metadata"]
        else:
            spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
            metadata = spec["template"].get("metadata") or {}
        out[f"{obj['kind']}/{obj['metadata']['name']}"] = metadata.get("annotations") or {}
    return out


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container of a pod spec: init, regular and ephemeral."""
    return [*spec.get("initContainers", []), *spec["containers"], *spec.get("ephemeralContainers", [])]


def assert_restricted(objects: list[dict[str, Any]], context: str = "") -> None:
    """Every workload passes Pod Security `restricted` (edgeai.podsecurity) and keeps the charts' promise
    on top of it: the shared pod/container security contexts, read-only root filesystem included."""
    for name, spec in pod_specs(objects).items():
        where = f"{context}{name}"
        assert podsecurity.restricted_violations(spec) == [], where
        pod_sc = spec.get("securityContext") or {}
        assert {k: pod_sc.get(k) for k in POD_SECURITY_CONTEXT} == POD_SECURITY_CONTEXT, where
        for volume in spec.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= podsecurity.ALLOWED_VOLUMES, (where, volume["name"], kinds)
        for c in containers(spec):
            sc = c.get("securityContext") or {}
            assert sc.get("readOnlyRootFilesystem") is True, f"{where}/{c['name']} needs readOnlyRootFilesystem"
            assert {k: sc.get(k) for k in CONTAINER_SECURITY_CONTEXT} == CONTAINER_SECURITY_CONTEXT, \
                f"{where}/{c['name']}"


def assert_requests_and_limits(objects: list[dict[str, Any]], context: str = "") -> None:
    """Every container (init included) requests cpu and memory and limits every resource it requests."""
    for name, spec in pod_specs(objects).items():
        for c in containers(spec):
            where = f"{context}{name}/{c['name']}"
            resources = c.get("resources") or {}
            requests, limits = set(resources.get("requests") or {}), set(resources.get("limits") or {})
            assert {"cpu", "memory"} <= requests, f"{where} requests {sorted(requests)}"
            assert requests <= limits, f"{where} limits {sorted(limits)}, requests {sorted(requests)}"


def assert_probes_on_declared_ports(objects: list[dict[str, Any]], context: str = "") -> None:
    """Every long-running container (not in a Job or CronJob) names the ports it declares, has liveness and
    readiness probes, and every httpGet/tcpSocket/grpc probe targets a declared port (by name or number)."""
    for name, spec in pod_specs(objects).items():
        if name.split("/")[0] in ("Job", "CronJob"):
            continue
        for c in spec["containers"]:
            where = f"{context}{name}/{c['name']}"
            ports = c.get("ports", [])
            assert all(p.get("name") for p in ports), f"{where} declares an unnamed port"
            declared = {p["containerPort"] for p in ports} | {p["name"] for p in ports}
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in c, f"{where} has no {probe}"
            for probe in PROBES:
                handler = c.get(probe)
                if not handler:
                    continue
                target = handler.get("httpGet") or handler.get("tcpSocket") or handler.get("grpc")
                if target is None:
                    assert "exec" in handler, (where, probe, handler)
                else:
                    assert target["port"] in declared, f"{where} {probe} targets undeclared port {target['port']}"


def assert_schema_embeds_shared_defs(chart_dir: Path) -> None:
    """The chart's values.schema.json carries every definition of edgeai-common's values.defs.json verbatim."""
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    shared = json.loads((paths.CHARTS / "edgeai-common" / "values.defs.json").read_text())
    for key, value in shared.items():
        if not key.startswith("$"):
            assert schema["$defs"][key] == value, f"{chart_dir.name}: $defs.{key}"


@pytest.fixture
def helm_render():
    return render
