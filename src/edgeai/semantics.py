"""Cross-file rules of an environment: what no single file's schema can see."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from edgeai.layers import Layer, deep_merge, source_of
from edgeai.problems import Problem
from edgeai.yamlfile import YamlFile

if TYPE_CHECKING:
    from edgeai.fleet import Environment, Site

# A revision that cannot move: a semver tag or a full commit hash.
PINNED_REVISION = re.compile(r"^(v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?|[0-9a-f]{40})$")


def check_names(env: Environment, sites: dict[Path, YamlFile | None],
                models: dict[Path, YamlFile | None]) -> list[Problem]:
    """Names equal file names, and no two files claim the same name."""
    problems = []
    if env.name != env.directory.name:
        problems.append(env.file.problem(("name",), f"name '{env.name}' differs from the folder "
                                         f"'{env.directory.name}'", f"set name: {env.directory.name}"))
    for kind, docs in (("site", sites), ("model", models)):
        seen: dict[str, Path] = {}
        for path, doc in docs.items():
            if doc is None:
                continue
            name = doc.data["name"]
            if name in seen:
                problems.append(doc.problem(("name",), f"duplicate {kind} name '{name}' "
                                            f"(also in {seen[name].name})", f"rename one of the {kind}s"))
            elif name != path.stem:
                problems.append(doc.problem(("name",), f"{kind} name '{name}' differs from the file "
                                            f"name '{path.stem}'", f"set name: {path.stem}"))
            seen.setdefault(name, path)
    return problems


def check(env: Environment) -> list[Problem]:
    problems = (_check_placement(env) + _check_gitops(env) + _check_cloud(env) + _check_kubernetes_version(env)
                + _check_drift(env))
    for site in env.sites.values():
        problems += _check_kafka(env, site) + _check_cep_model(env, site)
    return problems


def _check_placement(env: Environment) -> list[Problem]:
    problems = []
    regions = {s.region for s in env.sites.values()}
    for model in env.models.values():
        for i, region in enumerate(model.regions):
            if region not in regions:
                problems.append(model.file.problem(
                    ("regions", i), f"no site of environment '{env.name}' is in region '{region}'",
                    f"regions with sites: {', '.join(sorted(regions)) or 'none'}"))
        in_regions = [s for s in env.sites.values() if s.region in model.regions]
        if in_regions and not env.sites_of(model):
            most = max(s.gpus_per_node for s in in_regions)
            problems.append(model.file.problem(
                ("gpu",), f"needs {model.gpu} GPU(s) per replica but the sites of its regions have at "
                f"most {most} per node, so it runs nowhere",
                "add a GPU site to one of its regions, add a GPU region, or lower gpu"))
    return problems


def _check_drift(env: Environment) -> list[Problem]:
    """A drift reference is a distribution: shares that add up to 1 (rounding aside)."""
    problems = []
    for model in env.models.values():
        reference = (model.file.data.get("drift") or {}).get("reference")
        if reference and abs(sum(reference) - 1) > 0.01:
            problems.append(model.file.problem(
                ("drift", "reference"), f"the shares add up to {sum(reference):g}, not 1",
                "copy the distribution the registry recorded, as edgeai models promote --complete writes it"))
    return problems


def _check_gitops(env: Environment) -> list[Problem]:
    revision = env.gitops["targetRevision"]
    if env.config["tier"] == "production" and not PINNED_REVISION.match(revision):
        return [env.file.problem(("gitops", "targetRevision"),
                                 f"production sites must sync a tag or a commit, not '{revision}' "
                                 "(a branch or HEAD moves under them)", "use a release tag such as v1.4.0")]
    if env.gitops["repoURL"].startswith("http://") and env.config["tier"] != "development":
        return [env.file.problem(("gitops", "repoURL"), f"{env.config['tier']} sites would pull their desired "
                                 "state over plain http (anyone on the path can change what they run)",
                                 "use https://, ssh:// or git@ (http:// is for a development site's own Git server)")]
    return []


def _check_cloud(env: Environment) -> list[Problem]:
    """A cloud on the site's own kind cluster, reached over plain http, is a development convenience."""
    tier = env.config["tier"]
    if tier == "development":
        return []
    problems = []
    if env.cloud.get("onSiteCluster"):
        problems.append(env.file.problem(("cloud", "onSiteCluster"), f"a {tier} environment's cloud cannot run "
                                         "on its site's kind cluster", "remove it (development environments only)"))
    for key in ("objectStoreEndpoint", "prometheusRemoteWrite"):
        if str(env.cloud.get(key, "")).startswith("http://"):
            problems.append(env.file.problem(("cloud", key), f"{tier} sites would send to the cloud over plain "
                                             "http (anyone on the path reads and changes it)",
                                             "use https:// (http:// is for a development site's local cloud)"))
    return problems


def supported_kubernetes_minors() -> list[str]:
    """Minor versions whose Kubernetes schemas the gate has offline ('1.34', ...); [] when unknown."""
    from edgeai import engine, tools

    try:
        root = engine.kubernetes_schema_dir()
    except tools.ToolMissing:
        return []
    found = (re.match(r"^v(\d+\.\d+)\.0-local$", p.name) for p in root.iterdir())
    return sorted((m.group(1) for m in found if m), key=lambda v: tuple(map(int, v.split("."))))


def _check_kubernetes_version(env: Environment) -> list[Problem]:
    """One problem at the line that names the version, instead of one schema finding per object."""
    supported = supported_kubernetes_minors()
    minor = ".".join(env.kubernetes_version.split(".")[:2])
    if not supported or minor in supported:
        return []
    return [env.file.problem(("kubernetesVersion",), f"Kubernetes {env.kubernetes_version} is not supported: "
                             f"the gate checks objects against the schemas of {supported[0]} to {supported[-1]}",
                             f"use a version from {supported[0]}.0 to {supported[-1]}.x")]


def _layers(env: Environment, site: Site, component: str) -> list[Layer]:
    return [Layer(env.file, ("components", component)), Layer(site.file, ("components", component))]


def _problem_at(layers: list[Layer], path: tuple, message: str, fix: str, fallback: YamlFile,
                fallback_path: tuple) -> Problem:
    found = source_of(layers, path)
    if found:
        layer, yaml_path = found
        return layer.file.problem(yaml_path, message, fix)
    return fallback.problem(fallback_path, message, fix)


def _check_kafka(env: Environment, site: Site) -> list[Problem]:
    from edgeai.composition import kafka_brokers

    layers = _layers(env, site, "kafka")
    kafka = deep_merge({}, *(layer.values for layer in layers))
    brokers = kafka.get("brokers", kafka_brokers(site))
    rf, min_isr = kafka.get("replicationFactor"), kafka.get("minInsyncReplicas")
    problems = []
    if brokers > site.node_count:
        problems.append(_problem_at(layers, ("brokers",), f"{brokers} Kafka brokers on a site of "
                                    f"{site.node_count} node(s) (site '{site.name}')",
                                    "at most one broker per node", site.file, ("nodes", "count")))
    if rf is not None and rf > brokers:
        problems.append(_problem_at(layers, ("replicationFactor",),
                                    f"replication factor {rf} exceeds the {brokers} broker(s) of site "
                                    f"'{site.name}'", f"use at most {brokers}", site.file, ("nodes",)))
    if min_isr is not None and min_isr > (rf or brokers):
        problems.append(_problem_at(layers, ("minInsyncReplicas",),
                                    f"min.insync.replicas {min_isr} exceeds the replication factor "
                                    f"{rf or brokers} on site '{site.name}'; every write would fail",
                                    "use replication factor - 1", site.file, ("nodes",)))
    return problems


def _check_cep_model(env: Environment, site: Site) -> list[Problem]:
    from edgeai.composition import platform

    layers = _layers(env, site, "siddhi")
    siddhi = deep_merge(platform()["components"].get("siddhi", {}), *(layer.values for layer in layers))
    model = siddhi.get("inference", {}).get("model")
    if model is None or model in {m.name for m in env.placed_models(site)}:
        return []
    return [_problem_at(layers, ("inference", "model"),
                        f"the CEP app of site '{site.name}' calls model '{model}', which is not placed "
                        "on that site", f"place '{model}' in region '{site.region}' or set "
                        "components.siddhi.inference.model", site.file, ("region",))]
