"""Render a site's releases with the real helm, exactly as its Argo CD will."""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import validators

from edgeai import helm, paths
from edgeai.composition import Release, compose
from edgeai.fleet import Environment, Site
from edgeai.layers import deep_merge, source_of
from edgeai.objects import object_ref
from edgeai.problems import Problem

# Kinds Argo CD applies without a namespace; every other object lands in the release's namespace.
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass",
    "PriorityClass", "PersistentVolume", "IngressClass", "RuntimeClass", "APIService",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
})


@dataclass(frozen=True)
class RenderedRelease:
    release: Release
    objects: list[dict[str, Any]]


@functools.cache
def chart_defaults(chart: str) -> dict[str, Any]:
    return yaml.safe_load((paths.ROOT / chart / "values.yaml").read_text()) or {}


@functools.cache
def _chart_validator(chart: str):
    schema = json.loads((paths.ROOT / chart / "values.schema.json").read_text())
    return validators.validator_for(schema)(schema)


def merged_values(release: Release) -> dict[str, Any]:
    """The release's values over its chart's defaults: what the chart's templates see."""
    return deep_merge(chart_defaults(release.chart), release.values)


def check_values(site: Site, release: Release) -> list[Problem]:
    """The release's values against its chart's values.schema.json, located: when helm refuses a
    release's values, this says which file and line of components.<name> is at fault."""
    from edgeai.schemas import explain

    problems = []
    for err in _chart_validator(release.chart).iter_errors(merged_values(release)):
        path, message, fix = explain(err)
        message = f"{message} (chart {release.chart}, release {release.name})"
        found = source_of(release.layers, tuple(path))
        if found:
            layer, yaml_path = found
            problems.append(layer.file.problem(yaml_path, message, fix))
        else:  # set by the platform itself: a bug of the platform, reported against the chart
            problems.append(Problem(paths.ROOT / release.chart / "values.schema.json", None,
                                    tuple(path), message, "the platform defaults disagree with the chart"))
    return problems


def _place(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    if obj.get("kind") not in CLUSTER_SCOPED:
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    return obj


def render_release(env: Environment, release: Release, root: Path | None = None) -> RenderedRelease:
    """One release through `helm template`; `root` is another checkout's root (a base revision)."""
    objects = helm.template((root or paths.ROOT) / release.chart, release.name, release.namespace,
                            release.values, kube_version=env.kubernetes_version)
    return RenderedRelease(release, [_place(o, release.namespace) for o in objects])


def render_site(env: Environment, site: Site, releases: list[Release] | None = None,
                workers: int = 4, root: Path | None = None) -> list[RenderedRelease]:
    """Every release of the site rendered; helm runs in parallel, results keep sync-wave order."""
    releases = releases if releases is not None else compose(env, site)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda r: render_release(env, r, root), releases))


@dataclass(frozen=True)
class SchemaFinding:
    object: str    # Kind/namespace/name
    message: str


@dataclass(frozen=True)
class RenderResult:
    objects: list[dict[str, Any]]
    error: str | None = None
    schema: tuple[SchemaFinding, ...] = ()


class EngineRenderer:
    """The gate's renderer: edgeai-engine (helm's library and kubeconform's validator in one
    process) renders every release like `helm template` and checks every object against the
    Kubernetes schema of the site's version. Custom resources without a schema are counted as
    unchecked rather than passed silently."""

    def __init__(self) -> None:
        from edgeai import engine

        self._engine = engine.Engine()
        self.unchecked: dict[str, int] = {}  # kind -> objects no schema covers

    def __enter__(self) -> EngineRenderer:
        self._engine.start()
        return self

    def __exit__(self, *exc) -> None:
        self._engine.close()

    def render_many(self, requests):
        from edgeai import engine

        pairs = []

        def feed():
            for env, release in requests:
                helm.build_dependencies(paths.ROOT / release.chart)
                pairs.append(release)
                yield engine.RenderRequest(paths.ROOT / release.chart, release.name, release.namespace,
                                           release.values, env.kubernetes_version)

        for result in self._engine.render_many(feed()):
            release = result.request
            objects = [_place(o, release.namespace) for o in result.objects]
            findings = []
            for f in result.schema:
                obj = objects[f.index]
                if f.status == "skipped":
                    self.unchecked[obj.get("kind", "?")] = self.unchecked.get(obj.get("kind", "?"), 0) + 1
                elif f.status in ("invalid", "error"):
                    detail = "; ".join(f"{e.path or '/'}: {e.message}" for e in f.errors) or f.status
                    findings.append(SchemaFinding(object_ref(obj), f"does not match the Kubernetes schema: {detail}"))
            yield RenderResult(objects, result.error, tuple(findings))


def default_renderer():
    """The engine; it is built by scripts/bootstrap-tools.sh (tools.ToolMissing names it when absent)."""
    return EngineRenderer()
