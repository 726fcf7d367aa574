"""Every chart, rendered with real helm for every release of every site of every environment.

Assertions on the fields that matter for every workload; chart-specific behaviour is in
the test_<chart>.py files beside this one.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from edgeai import capacity, catalog, cli, fleet, helm, paths, render
from edgeai.composition import compose
from tests.charts.conftest import assert_probes_on_declared_ports, assert_requests_and_limits, assert_restricted

ENVS = fleet.load_fleet()
SITES = [(e, s) for e in ENVS for s in e.sites.values()]
SITE_IDS = [f"{e.name}/{s.name}" for e, s in SITES]


@pytest.fixture(scope="module")
def rendered():
    """(env, site) id -> list of RenderedRelease, rendered once for the module."""
    return {f"{e.name}/{s.name}": render.render_site(e, s) for e, s in SITES}


@pytest.mark.parametrize("chart", catalog.CHARTS)
def test_chart_lints_strict(chart: str) -> None:
    helm.lint(paths.CHARTS / chart)


def test_chart_schemas_embed_the_shared_definitions() -> None:
    result = subprocess.run([sys.executable, "scripts/sync-chart-schemas.py", "--check"],
                            cwd=paths.ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("chart", catalog.CHARTS)
def test_chart_schema_rejects_unknown_top_level_key(chart: str) -> None:
    with pytest.raises(helm.HelmError, match="additional properties|additionalProperties|not allowed"):
        helm.template(paths.CHARTS / chart, chart, "edgeai-test", {"notAValue": 1})


def test_validate_passes_on_every_shipped_environment(capsys) -> None:
    assert cli.main(["validate"]) == 0, capsys.readouterr()


@pytest.mark.parametrize(("env", "site"), SITES, ids=SITE_IDS)
def test_every_workload_is_restricted_probed_and_sized(env, site, rendered) -> None:
    for rr in rendered[f"{env.name}/{site.name}"]:
        where = f"{rr.release.name}: "
        if rr.release.pod_security == "restricted":
            assert_restricted(rr.objects, where)
        assert_requests_and_limits(rr.objects, where)
        assert_probes_on_declared_ports(rr.objects, where)


@pytest.mark.parametrize(("env", "site"), SITES, ids=SITE_IDS)
def test_every_object_carries_the_ownership_labels(env, site, rendered) -> None:
    site_namespaces = {rr.release.namespace for rr in rendered[f"{env.name}/{site.name}"]}
    for rr in rendered[f"{env.name}/{site.name}"]:
        for obj in rr.objects:
            labels = obj["metadata"].get("labels", {})
            where = f"{rr.release.name}: {obj['kind']}/{obj['metadata']['name']}"
            assert labels.get(catalog.LABELS["environment"]) == env.name, where
            assert labels.get(catalog.LABELS["site"]) == site.name, where
            assert labels.get(catalog.LABELS["owner"]) == env.config["owner"], where
            assert labels.get("app.kubernetes.io/instance") == rr.release.name, where
            if obj["kind"] in ("Role", "RoleBinding"):  # Prometheus' read access, in each scraped namespace
                assert obj["metadata"]["namespace"] in site_namespaces, where
            elif obj["kind"] not in render.CLUSTER_SCOPED:
                assert obj["metadata"]["namespace"] == rr.release.namespace, where


@pytest.mark.parametrize(("env", "site"), SITES, ids=SITE_IDS)
def test_multi_replica_workloads_have_a_drainable_pdb(env, site, rendered) -> None:
    for rr in rendered[f"{env.name}/{site.name}"]:
        pdbs = [o for o in rr.objects if o["kind"] == "PodDisruptionBudget"]
        for obj in rr.objects:
            if obj["kind"] in ("Deployment", "StatefulSet") and obj["spec"].get("replicas", 1) > 1:
                selector = obj["spec"]["selector"]["matchLabels"]
                matching = [p for p in pdbs if p["spec"]["selector"]["matchLabels"].items() <= selector.items()]
                assert matching, f"{rr.release.name}: {obj['metadata']['name']} has no PDB"
                assert all(p["spec"].get("maxUnavailable", 0) >= 1 for p in matching)


def test_kafka_replication_follows_broker_count(rendered) -> None:
    for (env, site) in SITES:
        [kafka] = [rr for rr in rendered[f"{env.name}/{site.name}"] if rr.release.component == "kafka"]
        props = "\n".join(v for o in kafka.objects if o["kind"] == "ConfigMap"
                          for v in (o.get("data") or {}).values())
        brokers = min(site.node_count, 3)
        rf, isr = (1, 1) if brokers == 1 else (3, 2)
        for key, want in (("default.replication.factor", rf), ("min.insync.replicas", isr),
                          ("offsets.topic.replication.factor", rf),
                          ("transaction.state.log.replication.factor", rf),
                          ("transaction.state.log.min.isr", isr)):
            assert f"{key}={want}" in props, f"{env.name}/{site.name}: {key} != {want}"


def test_mirror_maker_reaches_the_declared_cloud_kafka_over_sasl_ssl_as_the_site(rendered) -> None:
    for (env, site) in SITES:
        [kafka] = [rr for rr in rendered[f"{env.name}/{site.name}"] if rr.release.component == "kafka"]
        mirror = [o for o in kafka.objects
                  if o["kind"] == "Deployment" and o["metadata"]["name"] == "kafka-mirror-maker"]
        if not env.cloud.get("kafkaBootstrap"):
            assert not mirror, f"{env.name}/{site.name}: no cloud Kafka declared, nothing to mirror to"
            continue
        [config] = [o["data"]["mirror-maker.properties"] for o in kafka.objects if o["kind"] == "ConfigMap"
                    and "mirror-maker.properties" in (o.get("data") or {})]
        assert f"cloud.bootstrap.servers={env.cloud['kafkaBootstrap']}" in config
        assert "cloud.security.protocol=SASL_SSL" in config and "cloud.sasl.mechanism=SCRAM-SHA-512" in config
        [container] = mirror[0]["spec"]["template"]["spec"]["containers"]
        env_vars = {e["name"]: e.get("valueFrom") for e in container["env"]}
        assert env_vars["TARGET_USERNAME"] == {"secretKeyRef": {"name": "kafka-mirror-target", "key": "username"}}
        assert env_vars["TARGET_PASSWORD"] == {"secretKeyRef": {"name": "kafka-mirror-target", "key": "password"}}


def test_redis_snapshots_go_to_the_declared_bucket_where_the_training_stack_finds_them(rendered) -> None:
    """#13: every site of an environment with an s3:// object store uploads hourly RDB snapshots under
    redis-snapshots/<site>/ of its bucket, with the rclone remote of the site stack's Secret."""
    for env, site in SITES:
        [redis] = [rr for rr in rendered[f"{env.name}/{site.name}"] if rr.release.component == "redis"]
        jobs = [o for o in redis.objects if o["kind"] == "CronJob"]
        store = env.cloud.get("objectStore", "")
        if not store.startswith("s3://"):
            assert not jobs, f"{env.name}/{site.name}: no object store declared, nowhere to upload"
            continue
        [job] = jobs
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        text = yaml.safe_dump(pod)
        bucket = store.removeprefix("s3://").split("/")[0]
        assert f"s3:{bucket}/redis-snapshots/{site.name}/" in text, f"{env.name}/{site.name}"
        assert any(v.get("secret", {}).get("secretName") == "redis-snapshot-storage" for v in pod["volumes"])


def test_gpu_models_request_gpus_only_on_gpu_sites(rendered) -> None:
    for env, site in SITES:
        for rr in rendered[f"{env.name}/{site.name}"]:
            for obj in rr.objects:
                spec = capacity.pod_spec(obj)
                if spec and capacity.pod_demand(spec).gpu:
                    assert site.gpus_per_node >= capacity.pod_demand(spec).gpu
                    assert rr.release.component == "model-serving"


def test_manifests_are_what_argo_cd_applies(capsys) -> None:
    import yaml
    assert cli.main(["render", "--env", "local", "--site", "local", "--manifests"]) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    env = next(e for e in ENVS if e.name == "local")
    expected = sum(len(rr.objects) for rr in render.render_site(env, env.sites["local"]))
    assert len(docs) == expected
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] not in render.CLUSTER_SCOPED} == {
        r.namespace for r in compose(env, env.sites["local"])}
