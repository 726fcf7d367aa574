"""The fleet as data: environments, their sites and models, loaded from environments/.

Loading checks every file against its JSON Schema and the cross-file rules
(edgeai.semantics), collects every problem and raises them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeai import overrides, paths, schemas, semantics
from edgeai.problems import InputErrors, Problem
from edgeai.yamlfile import YamlFile, load


@dataclass
class Site:
    file: YamlFile

    @property
    def name(self) -> str:
        return self.file.data["name"]

    @property
    def region(self) -> str:
        return self.file.data["region"]

    @property
    def nodes(self) -> dict[str, Any]:
        return self.file.data["nodes"]

    @property
    def node_count(self) -> int:
        return self.nodes["count"]

    @property
    def gpus_per_node(self) -> int:
        return self.nodes.get("gpu", {}).get("count", 0)

    @property
    def cpu_total(self) -> int:
        return self.nodes["cpu"] * self.node_count

    @property
    def memory_gi_total(self) -> int:
        return int(self.nodes["memory"].removesuffix("Gi")) * self.node_count

    @property
    def storage_class(self) -> str:
        return self.file.data.get("storageClass", "local-path")

    @property
    def components(self) -> dict[str, Any]:
        return self.file.data.get("components", {})


@dataclass
class Model:
    file: YamlFile

    @property
    def name(self) -> str:
        return self.file.data["name"]

    @property
    def framework(self) -> str:
        return self.file.data["framework"]

    @property
    def regions(self) -> list[str]:
        return self.file.data["regions"]

    @property
    def replicas(self) -> int:
        return self.file.data.get("replicas", 1)

    @property
    def gpu(self) -> int:
        return self.file.data.get("gpu", 0)

    @property
    def canary(self) -> dict[str, Any] | None:
        return self.file.data.get("canary")

    def runs_on(self, site: Site) -> bool:
        """Placement: a site of one of the model's regions with enough GPUs per node."""
        return site.region in self.regions and site.gpus_per_node >= self.gpu


@dataclass
class Environment:
    directory: Path
    file: YamlFile
    sites: dict[str, Site] = field(default_factory=dict)
    models: dict[str, Model] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.file.data["name"]

    @property
    def config(self) -> dict[str, Any]:
        return self.file.data

    @property
    def kubernetes_version(self) -> str:
        return self.config["kubernetesVersion"]

    @property
    def gitops(self) -> dict[str, Any]:
        return self.config["gitops"]

    @property
    def cloud(self) -> dict[str, Any]:
        return self.config.get("cloud", {})

    @property
    def components(self) -> dict[str, Any]:
        return self.config.get("components", {})

    def placed_models(self, site: Site) -> list[Model]:
        return [m for _, m in sorted(self.models.items()) if m.runs_on(site)]

    def sites_of(self, model: Model) -> list[Site]:
        return [s for _, s in sorted(self.sites.items()) if model.runs_on(s)]


def _load_checked(path: Path, kind: str, problems: list[Problem], require_digest: bool = False) -> YamlFile | None:
    doc, found = load(path)
    problems += found
    if doc is None:
        return None
    schema_problems = schemas.validate(doc, kind)
    if not schema_problems:
        # Only a well-typed file can be walked for its overrides, formats and secrets; an override
        # of the wrong type stops here, before the cross-file rules compare or merge it.
        schema_problems = overrides.check(doc, require_digest)
    problems += schema_problems + schemas.check_header(doc, kind)
    # A file that breaks its schema is not used further: later checks would only echo the error.
    return None if schema_problems else doc


def load_environment(directory: Path) -> Environment:
    """One environment folder, fully checked; raises InputErrors listing every problem."""
    problems: list[Problem] = []
    env_file = directory / "environment.yaml"
    if not env_file.is_file():
        raise InputErrors([Problem(env_file, None, (), "missing environment.yaml",
                                   "every folder under environments/ (except schema/) is an environment")])
    doc = _load_checked(env_file, "environment", problems)
    require_digest = bool(doc and (doc.data.get("images") or {}).get("requireDigest"))
    if require_digest:
        problems += overrides.check_components(doc, require_digest=True)
    sites = {p: _load_checked(p, "site", problems, require_digest)
             for p in sorted((directory / "sites").glob("*.y*ml"))}
    models = {p: _load_checked(p, "model", problems) for p in sorted((directory / "models").glob("*.y*ml"))}
    if doc is None or None in sites.values() or None in models.values():
        # Cross-file rules over a partial fleet would report echoes of the file errors
        # (a model "in a region with no site" because that site failed to load).
        raise InputErrors(problems)
    env = Environment(directory, doc)
    problems += semantics.check_names(env, sites, models)
    for site_doc in sites.values():
        env.sites.setdefault(site_doc.data["name"], Site(site_doc))
    for model_doc in models.values():
        env.models.setdefault(model_doc.data["name"], Model(model_doc))
    problems += semantics.check(env)
    if problems:
        raise InputErrors(problems)
    return env


def environment_dirs(root: Path | None = None) -> list[Path]:
    root = root or paths.ENVIRONMENTS
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name != "schema")


def load_fleet(names: list[str] | None = None, root: Path | None = None) -> list[Environment]:
    """The named environments (all when None); every problem of every environment in one InputErrors."""
    root = root or paths.ENVIRONMENTS
    dirs = environment_dirs(root)
    if names:
        known = {d.name for d in dirs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputErrors([Problem(root / n, None, (), f"no environment '{n}'",
                                       f"known environments: {', '.join(sorted(known))}") for n in unknown])
        dirs = [d for d in dirs if d.name in names]
    envs, problems = [], []
    for d in dirs:
        try:
            envs.append(load_environment(d))
        except InputErrors as err:
            problems += err.problems
    if problems:
        raise InputErrors(problems)
    return envs
