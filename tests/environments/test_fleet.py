"""The shipped environments and what the composition makes of them (no helm needed)."""

from __future__ import annotations

import pytest

from edgeai import catalog, fleet, paths
from edgeai.composition import compose, kafka_brokers
from edgeai.layers import deep_merge
from edgeai.problems import InputErrors

ENVS = {e.name: e for e in fleet.load_fleet()}
SITES = [(e, s) for e in ENVS.values() for s in e.sites.values()]
SITE_IDS = [f"{e.name}/{s.name}" for e, s in SITES]


def test_three_environments_ship() -> None:
    assert set(ENVS) == {"local", "staging", "prod"}


def test_local_is_one_small_site() -> None:
    [site] = ENVS["local"].sites.values()
    assert (site.node_count, site.gpus_per_node) == (1, 0)


def test_staging_has_at_least_three_sites() -> None:
    assert len(ENVS["staging"].sites) >= 3


def test_prod_is_a_real_fleet() -> None:
    prod = ENVS["prod"]
    sites = list(prod.sites.values())
    assert len(sites) >= 12
    assert len({s.region for s in sites}) >= 3
    assert {s.node_count for s in sites} >= {1, 3}
    assert sum(s.gpus_per_node > 0 for s in sites) >= 3
    models = list(prod.models.values())
    assert len(models) >= 3
    assert any(m.gpu for m in models) and any(m.canary for m in models)
    assert prod.config["tier"] == "production"


def test_model_files_are_under_ten_lines() -> None:
    for env in ENVS.values():
        for model in env.models.values():
            assert len(model.file.path.read_text().splitlines()) < 10, model.file.path


def test_gpu_models_only_on_gpu_sites_and_every_model_placed() -> None:
    for env in ENVS.values():
        for model in env.models.values():
            placed = env.sites_of(model)
            assert placed, f"{env.name}: {model.name} placed nowhere"
            for site in placed:
                assert site.region in model.regions
                assert site.gpus_per_node >= model.gpu
            for site in env.sites.values():
                if site.region in model.regions and site.gpus_per_node >= model.gpu:
                    assert site in placed  # every site that can run it does


@pytest.mark.parametrize(("env", "site"), SITES, ids=SITE_IDS)
def test_composition_is_deterministic_and_complete(env, site) -> None:
    releases = compose(env, site)
    assert releases == compose(env, site)
    names = [r.name for r in releases]
    assert len(names) == len(set(names))
    placed = {f"model-{m.name}" for m in env.placed_models(site)}
    assert placed == {r.name for r in releases if r.component == "model-serving"}
    for r in releases:
        assert (paths.ROOT / r.chart / "Chart.yaml").is_file()
        assert r.values["global"]["site"] == site.name
        assert r.values["global"]["environment"] == env.name


@pytest.mark.parametrize(("env", "site"), SITES, ids=SITE_IDS)
def test_sync_waves_follow_dependencies(env, site) -> None:
    releases = compose(env, site)
    waves = {r.component: r.sync_wave for r in releases}
    for r in releases:
        for need in catalog.COMPONENTS[r.component].needs:
            if need in waves:
                assert waves[need] < r.sync_wave, f"{r.name} syncs before {need}"
    assert [r.sync_wave for r in releases] == sorted(r.sync_wave for r in releases)


@pytest.mark.parametrize(("env", "site"), SITES, ids=SITE_IDS)
def test_network_policy_allows_exactly_the_data_path(env, site) -> None:
    by_component = {r.component: r.values["networkPolicy"] for r in compose(env, site)}
    ns = {name: c.namespace for name, c in catalog.COMPONENTS.items()}
    assert by_component["model-serving"]["ingressNamespaces"] == sorted(
        [ns["gateway"], ns["monitoring"]])
    assert by_component["siddhi"]["egressNamespaces"] == sorted(
        [ns["kafka"], ns["gateway"], ns["redis"]])
    assert ns["siddhi"] in by_component["kafka"]["ingressNamespaces"]
    assert by_component["redis"]["egressNamespaces"] == []
    assert set(by_component["monitoring"]["egressNamespaces"]) == {
        ns[c] for c in by_component if c != "monitoring"}


def test_kafka_brokers_follow_node_count() -> None:
    for env, site in SITES:
        kafka = next(r for r in compose(env, site) if r.component == "kafka")
        assert kafka.values["brokers"] == kafka_brokers(site) == min(site.node_count, 3)


def test_gateway_routes_carry_canary_weights() -> None:
    env = ENVS["prod"]
    site = env.sites["fra-store-001"]
    gateway = next(r for r in compose(env, site) if r.component == "gateway")
    routes = {route["model"]: route for route in gateway.values["routes"]}
    assert routes["demand-forecast"]["canary"]["weight"] == 10
    assert routes["demand-forecast"]["canary"]["service"].startswith("demand-forecast-canary.edgeai-models.")
    assert "canary" not in routes["sensor-anomaly"]


def test_small_sites_ship_logs_to_the_cloud() -> None:
    env = ENVS["prod"]
    small = {r.name: r for r in compose(env, env.sites["fra-store-002"])}
    big = {r.name: r for r in compose(env, env.sites["ber-factory-01"])}
    assert "logging" not in small and "logging" in big
    to_cloud = small["log-agent"].values["agent"]["output"]["elasticsearch"]
    to_site = big["log-agent"].values["agent"]["output"]["elasticsearch"]
    assert (to_cloud["host"], to_cloud["tls"]["enabled"]) == ("logs.prod.cloud.example.com", True)
    assert to_site["host"].startswith("logging-elasticsearch.") and not to_site["tls"]["enabled"]
    assert small["log-agent"].pod_security == "privileged"


def test_site_overrides_environment_overrides_platform(tmp_path) -> None:
    import shutil
    # staging: its files set no components of their own (local's do, for the local cluster)
    shutil.copytree(paths.ENVIRONMENTS / "staging", tmp_path / "staging")
    env_file = tmp_path / "staging" / "environment.yaml"
    env_file.write_text(env_file.read_text() + "components:\n  redis:\n    persistence: {size: 8Gi}\n"
                        "    resources: {requests: {cpu: 200m, memory: 256Mi}, limits: {cpu: 1, memory: 512Mi}}\n")
    site_file = tmp_path / "staging" / "sites" / "stg-eu-1.yaml"
    site_file.write_text(site_file.read_text() + "components:\n  redis:\n    persistence: {size: 2Gi}\n")
    env = fleet.load_fleet(root=tmp_path)[0]
    redis = next(r for r in compose(env, env.sites["stg-eu-1"]) if r.component == "redis")
    assert redis.values["persistence"]["size"] == "2Gi"           # site wins
    assert redis.values["resources"]["requests"]["cpu"] == "200m"  # environment kept where site is silent


def test_deep_merge_is_helm_like() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert deep_merge(base, {"a": {"c": [3]}, "d": None}) == {"a": {"b": 1, "c": [3]}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # inputs untouched


def _staging_with_sensor_anomaly(tmp_path, extra: str) -> fleet.Environment:
    import shutil
    shutil.copytree(paths.ENVIRONMENTS / "staging", tmp_path / "staging")
    model = tmp_path / "staging" / "models" / "sensor-anomaly.yaml"
    text = model.read_text().replace("lowConfidenceThreshold: 0.3", "lowConfidenceThreshold: 0.15")
    model.write_text(text + extra)
    return fleet.load_fleet(root=tmp_path)[0]


def test_the_cep_and_the_drift_rules_follow_the_model_file(tmp_path) -> None:
    env = _staging_with_sensor_anomaly(
        tmp_path, "drift: {threshold: 0.25, reference: [0.9, 0.02, 0.01, 0.01, 0, 0, 0.01, 0.01, 0.02, 0.02]}\n")
    releases = {r.component: r for r in compose(env, env.sites["stg-eu-1"])}
    assert releases["siddhi"].values["inference"]["lowConfidenceThreshold"] == 0.15
    (drift,) = releases["monitoring"].values["modelDrift"]["models"]
    assert drift == {"name": "sensor-anomaly", "threshold": 0.25,
                     "reference": [0.9, 0.02, 0.01, 0.01, 0, 0, 0.01, 0.01, 0.02, 0.02]}
    # The shipped files declare no drift: the monitoring release gets no references.
    shipped = ENVS["staging"]
    assert "modelDrift" not in next(r for r in compose(shipped, shipped.sites["stg-eu-1"])
                                    if r.component == "monitoring").values


def test_a_drift_reference_that_is_not_a_distribution_is_refused(tmp_path) -> None:
    with pytest.raises(InputErrors) as err:
        _staging_with_sensor_anomaly(tmp_path, "drift: {reference: [0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.4]}\n")
    (problem,) = err.value.problems
    assert str(problem).endswith("sensor-anomaly.yaml:8: drift.reference: the shares add up to 0.9, not 1 "
                                 "(fix: copy the distribution the registry recorded, as edgeai models promote "
                                 "--complete writes it)"), problem


def test_declared_versions_reach_the_model_servers_as_strings(tmp_path) -> None:
    env = _staging_with_sensor_anomaly(
        tmp_path, "version: 7\ncanary: {uri: s3://edgeai-models/sensor-anomaly/run-8/model, weight: 10, version: 8}\n")
    serving = next(r for r in compose(env, env.sites["stg-eu-1"]) if r.name == "model-sensor-anomaly")
    assert (serving.values["model"]["version"], serving.values["model"]["canary"]["version"]) == ("7", "8")
