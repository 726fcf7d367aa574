"""The training stack of every environment, with an in-cluster and with an external object store."""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from urllib.parse import unquote, urlparse

import pytest
import yaml
from stack_cases import ENVS, EXTERNAL_STORE, mirror_password, secret_value

from edgeai import capacity, catalog, paths, podsecurity
from edgeai import stacks as naming
from edgeai.images import definitions
from edgeai.layers import deep_merge
from stacks import cloud
from stacks.training import training, workloads

PSS = "pod-security.kubernetes.io"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "CronJob")


def _objects(run) -> list[dict]:
    """The recorded resources as the Kubernetes objects they describe."""
    out = []
    for r in run.resources:
        if r.type.startswith("kubernetes:") and "helm.sh" not in r.type:
            out.append({"apiVersion": r.inputs.get("apiVersion"), "kind": r.kind, **r.inputs})
    return out


def image(env, name: str) -> str:
    """The image of a training workload, through the environment's mirror when it has one."""
    official = workloads.IMAGES[name]
    mirror = (env.config.get("images") or {}).get("mirror")
    return f"{mirror}/{official.split('/', 1)[1]}" if mirror else official


def test_resource_kinds_and_counts(training_case) -> None:
    env, mode, run = training_case
    in_cluster = mode == "in-cluster"
    namespaces = 4 + in_cluster
    assert Counter(r.kind for r in run.resources) == Counter({
        "kubernetes": 1, "Namespace": namespaces,
        "NetworkPolicy": 2 * namespaces + 4 + in_cluster,     # baseline + postgres/mlflow/landing/retrain (+store)
        # store credentials (twice in-cluster), mlflow-db, grafana-admin (+ the aggregation listener's two)
        "Secret": 3 + in_cluster + 2 * training.mirrored(env),
        "Release": len(training.CHART_COMPONENTS),
        "StatefulSet": 1, "Deployment": 2 + in_cluster, "Service": 2 + in_cluster,
        "CronJob": 1, **({"PersistentVolumeClaim": 1} if in_cluster else {})})


def test_namespaces_enforce_restricted_with_default_deny(training_case) -> None:
    env, _, run = training_case
    names = set()
    for ns in run.of_type("Namespace"):
        names.add(ns.k8s_name)
        assert ns.metadata["labels"][f"{PSS}/enforce"] == "restricted"
        assert ns.metadata["labels"][catalog.LABELS["site"]] == naming.TRAINING
    policies = {(p.namespace, p.k8s_name) for p in run.of_type("NetworkPolicy")}
    for ns in names:
        assert {(ns, "default-deny"), (ns, "allow-dns")} <= policies
    assert {catalog.COMPONENTS[c].namespace for c in training.CHART_COMPONENTS} <= names


def test_workloads_meet_pod_security_restricted(training_case) -> None:
    _, _, run = training_case
    workloads_seen = [o for o in _objects(run) if o["kind"] in WORKLOAD_KINDS]
    assert len(workloads_seen) >= 3
    for obj in workloads_seen:
        spec = capacity.pod_spec(obj)
        assert podsecurity.restricted_violations(spec) == []
        assert spec["automountServiceAccountToken"] is False
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert ":" in c["image"].rsplit("/", 1)[-1] and not c["image"].endswith(":latest")
            assert set(c["resources"]["requests"]) >= {"cpu", "memory"} <= set(c["resources"]["limits"])


def test_images_follow_the_environment_mirror() -> None:
    import copy

    from stack_cases import run_training

    env = copy.deepcopy(ENVS["local"])
    env.file.data["images"] = {"mirror": "registry.example.com/edgeai"}
    run = run_training(env, None)
    images = [c["image"] for o in _objects(run) if o["kind"] in WORKLOAD_KINDS
              for c in [*capacity.pod_spec(o).get("initContainers", []), *capacity.pod_spec(o)["containers"]]]
    assert images and all(i.startswith("registry.example.com/edgeai/") for i in images)
    assert f"registry.example.com/edgeai/edgeai-platform/mlflow:{definitions.load('mlflow').tag}" in images


def test_probes_on_every_long_running_container(training_case) -> None:
    _, _, run = training_case
    for r in run.resources:
        if r.kind in ("Deployment", "StatefulSet"):
            for c in r.inputs["spec"]["template"]["spec"]["containers"]:
                assert "readinessProbe" in c and "livenessProbe" in c, (r.name, c["name"])


def test_secrets_come_from_secret_config(training_case) -> None:
    env, _, run = training_case
    stack = f"{env.name}.training"
    for secret in run.of_type("Secret"):
        assert secret.secret_inputs == {"stringData"}, secret.name
    db = run.one("Secret", training.DB_SECRET, training.TRAINING_NS).inputs["stringData"]
    password = secret_value(stack, "postgresPassword")
    assert db["password"] == password
    uri = re.fullmatch(r"postgresql\+psycopg2://mlflow:(.+)@postgres\.edgeai-training\.svc\.cluster\.local:5432/mlflow",
                       db["uri"])
    assert uri and unquote(uri.group(1)) == password and "/" not in uri.group(1)   # URL-encoded
    grafana = run.one("Secret", "grafana-admin", catalog.COMPONENTS["monitoring"].namespace)
    assert grafana.inputs["stringData"]["admin-password"] == secret_value(stack, "grafanaAdminPassword")
    assert run.secret_outputs == frozenset()
    assert "SECRET::" not in run.plain_outputs_text()


def test_object_store_in_cluster_or_external(training_case) -> None:
    env, mode, run = training_case
    deployments = {d.k8s_name for d in run.of_type("Deployment")}
    if mode == "in-cluster":
        assert "object-store" in deployments
        assert run.outputs[cloud.OBJECT_STORE_ENDPOINT].startswith(f"http://object-store.{training.OBJECT_STORE_NS}.")
        [store] = [d for d in run.of_type("Deployment") if d.k8s_name == "object-store"]
        assert store.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == image(env, "minio")
    else:
        assert "object-store" not in deployments
        assert run.outputs[cloud.OBJECT_STORE_ENDPOINT] == EXTERNAL_STORE
    uri = run.outputs[cloud.OBJECT_STORE_URI]
    assert uri == env.cloud.get("objectStore", f"s3://edgeai-{env.name}-landing")
    mlflow = run.one("Deployment", "mlflow", training.TRAINING_NS).inputs["spec"]["template"]["spec"]
    env_vars = {e["name"]: e.get("value") for e in mlflow["containers"][0]["env"]}
    assert env_vars["MLFLOW_S3_ENDPOINT_URL"] == run.outputs[cloud.OBJECT_STORE_ENDPOINT]
    assert f"s3://{cloud.bucket_of(uri)}/{cloud.MLFLOW_PREFIX}" in mlflow["containers"][0]["command"]


def test_mlflow_runs_on_postgres_from_its_own_image(training_case) -> None:
    env, _, run = training_case
    spec = run.one("Deployment", "mlflow", training.TRAINING_NS).inputs["spec"]["template"]["spec"]
    [server] = spec["containers"]
    assert {"name": "MLFLOW_BACKEND_STORE_URI",
            "valueFrom": {"secretKeyRef": {"name": training.DB_SECRET, "key": "uri"}}} in server["env"]
    # The Postgres driver and boto3 are in the image (images/mlflow): nothing is installed at pod start.
    assert server["image"] == image(env, "mlflow")
    assert {p.split("==")[0] for p in definitions.load("mlflow").pip} >= {"mlflow", "psycopg2-binary", "boto3"}
    assert [c["name"] for c in spec["initContainers"]] == ["buckets"]
    # MLflow 3 answers only the Host headers it allows (403 otherwise): the registry URL the sites and the
    # retrain job use must be one of them.
    command = server["command"]
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    host = urlparse(run.outputs[cloud.REGISTRY_URL]).netloc
    assert any(fnmatch.fnmatchcase(host, pattern) for pattern in allowed), (host, allowed)
    assert not any(fnmatch.fnmatchcase("evil.example.com:5000", pattern) for pattern in allowed)
    assert not any("pip" in " ".join(c.get("command", [])) for c in [*spec["initContainers"], server])
    postgres = run.one("StatefulSet", "postgres", training.TRAINING_NS).inputs["spec"]
    assert postgres["template"]["spec"]["containers"][0]["image"] == image(env, "postgres")
    assert postgres["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_retraining_cronjob_is_a_suspended_gpu_template(training_case) -> None:
    _, _, run = training_case
    cron = run.one("CronJob", "retrain", training.TRAINING_NS).inputs["spec"]
    assert cron["suspend"] is True
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {workloads.GPU_NODE_LABEL: "true"}
    assert {"key": workloads.GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    [container] = pod["containers"]
    assert container["resources"]["limits"][workloads.GPU] == "1"
    assert pod["restartPolicy"] == "Never"


def test_landing_reads_the_mirrored_edge_topics(training_case) -> None:
    from edgeai.retrain import lander

    env, _, run = training_case
    landing = run.one("Deployment", "landing", training.TRAINING_NS).inputs
    [container] = landing["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(workloads.IMAGES["retrain"].split("/", 1)[1])
    args = lander.parse_args(container["command"][3:])
    assert container["command"][:3] == ["python", "-m", "edgeai.retrain.lander"]
    assert args.bootstrap == f"{catalog.service_host('kafka')}:9092"
    pattern = lander.topic_pattern(tuple(args.topics))
    assert all(re.match(pattern, f"fra-store-001.{t}") for t in catalog.TOPICS)
    assert not re.match(pattern, "sensor-events") and not re.match(pattern, "fra-store-001.other")
    assert args.bucket == cloud.bucket_of(run.outputs[cloud.OBJECT_STORE_URI])
    assert args.prefix == cloud.EDGE_PREFIX
    assert args.endpoint == run.outputs[cloud.OBJECT_STORE_ENDPOINT]


def _chart_schema_validator(chart: str):
    from jsonschema import validators

    schema = json.loads((paths.ROOT / chart / "values.schema.json").read_text())
    return validators.validator_for(schema)(schema)


@pytest.mark.parametrize("env_name", sorted(ENVS))
@pytest.mark.parametrize("component", training.CHART_COMPONENTS)
def test_reused_chart_values_fit_the_chart(env_name, component) -> None:
    env = ENVS[env_name]
    [release] = [r for r in training.chart_releases(env, training.plan(env)) if r.component == component]
    chart = paths.ROOT / release.chart
    assert chart.is_dir()
    if not (chart / "values.schema.json").is_file() or not (chart / "values.yaml").is_file():
        pytest.skip(f"{release.chart} has no values.schema.json/values.yaml yet")
    merged = deep_merge(yaml.safe_load((chart / "values.yaml").read_text()) or {}, release.values)
    errors = [e.message for e in _chart_schema_validator(release.chart).iter_errors(merged)]
    assert errors == []


def test_reused_charts_are_local_helm_releases(training_case) -> None:
    env, _, run = training_case
    releases = {r.name: r.inputs for r in run.of_type("Release")}
    assert set(releases) == set(training.CHART_COMPONENTS)
    for name, inputs in releases.items():
        component = catalog.COMPONENTS[name]
        assert inputs["chart"] == f"charts/{component.chart}" and inputs["namespace"] == component.namespace
        assert inputs["values"]["global"]["environment"] == env.name
        assert inputs["dependencyUpdate"] is True


def test_outputs_match_the_declared_cloud_endpoints(training_case) -> None:
    env, _, run = training_case
    assert cloud.disagreements(env.cloud, run.outputs) == []
    assert set(run.outputs) >= {cloud.INGEST_ENDPOINT, cloud.REGISTRY_URL, cloud.OBJECT_STORE_URI,
                                cloud.OBJECT_STORE_ENDPOINT, cloud.REMOTE_WRITE, cloud.ELASTICSEARCH}
    assert run.outputs[cloud.REGISTRY_URL] == "http://mlflow.edgeai-training.svc.cluster.local:5000"
    assert run.outputs["stack"] == f"{env.name}.training"


def test_a_development_environment_gets_one_broker() -> None:
    assert training.plan(ENVS["local"]).kafka_brokers == 1
    assert training.plan(ENVS["prod"]).kafka_brokers == 3


def test_retraining_runs_edgeai_retrain_on_the_models_that_declare_it(training_case) -> None:
    env, _, run = training_case
    cron = run.one("CronJob", "retrain", training.TRAINING_NS).inputs["spec"]
    [container] = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:3] == ["python", "-m", "edgeai.retrain"]
    specs = [json.loads(command[i + 1]) for i, arg in enumerate(command) if arg == "--spec"]
    declared = sorted(m.name for m in env.models.values() if "retrain" in m.file.data)
    assert [s["name"] for s in specs] == declared
    for spec in specs:
        assert spec["retrain"] == env.models[spec["name"]].file.data["retrain"]


def test_the_sites_mirror_to_a_sasl_ssl_listener_with_a_scram_user_each(training_case) -> None:
    env, _, run = training_case
    [kafka] = [r.inputs["values"] for r in run.of_type("Release") if r.name == "kafka"]
    if not training.mirrored(env):   # no cloud.kafkaBootstrap: the sites run no MirrorMaker, nothing listens
        assert "external" not in kafka
        assert not [s for s in run.of_type("Secret") if s.k8s_name.startswith("kafka-external")]
        return
    host, port = env.cloud["kafkaBootstrap"].rsplit(":", 1)
    label, domain = host.split(".", 1)
    ext = kafka["external"]
    assert ext["enabled"] and ext["service"] == {"type": "LoadBalancer", "port": int(port)}
    brokers = int(kafka["brokers"])   # numbers come back from the engine as floats
    assert ext["advertisedHosts"] == ([host] if brokers == 1 else [f"{label}-{i}.{domain}" for i in range(brokers)])
    assert ext["users"] == [{"name": s} for s in sorted(env.sites)]
    assert kafka["networkPolicy"]["exposedTo"] == ["0.0.0.0/0"]   # sites dial in from anywhere: TLS + SCRAM decide
    stack = f"{env.name}.training"
    ns = catalog.COMPONENTS["kafka"].namespace
    tls = run.one("Secret", "kafka-external-tls", ns)
    assert tls.inputs["type"] == "kubernetes.io/tls"
    assert tls.inputs["stringData"] == {"tls.crt": secret_value(stack, "kafkaExternalTlsCert"),
                                        "tls.key": secret_value(stack, "kafkaExternalTlsKey")}
    users = run.one("Secret", "kafka-external-users", ns).inputs["stringData"]["users"]
    assert users == "".join(f"{s} {mirror_password(env.name, s)}\n" for s in sorted(env.sites))
    # What the site stacks and the composition agree on: each site's MirrorMaker logs in as the site.
    from edgeai import composition
    for site in env.sites.values():
        [release] = [r for r in composition.compose(env, site) if r.component == "kafka"]
        mm = release.values["mirrorMaker"]
        assert mm["enabled"] and mm["targetBootstrap"] == env.cloud["kafkaBootstrap"] and mm["targetAuth"]["enabled"]
        assert "trustedCA" not in mm["targetAuth"]   # no cloud.kafkaCA: the JVM's public CAs
    # A private CA that signed the listener's certificate (cloud.kafkaCA) is what every MirrorMaker trusts.
    import copy
    private = copy.deepcopy(env)
    private.cloud["kafkaCA"] = "-----BEGIN CERTIFICATE-----\nMIIBprivate\n-----END CERTIFICATE-----\n"
    for site in private.sites.values():
        [release] = [r for r in composition.compose(private, site) if r.component == "kafka"]
        assert release.values["mirrorMaker"]["targetAuth"]["trustedCA"] == private.cloud["kafkaCA"]


@pytest.mark.parametrize(("lines", "expected"), [
    ("", "no line for site stg-ap-1; no line for site stg-eu-1; no line for site stg-us-1"),
    ("justapasswordwithoutasite0123", "line 1 is not '<site> <password>'"),
    ("stg-ap-1 short\n", "the password of site stg-ap-1 is not 16 or more"),
    ("lyon-007 aaaaaaaaaaaaaaaaaaaa", "'lyon-007' is not a site of environment staging"),
    ("stg-ap-1 aaaaaaaaaaaaaaaaaaaa\nstg-ap-1 bbbbbbbbbbbbbbbbbbbb", "site stg-ap-1 has 2 lines"),
])
def test_mirror_passwords_name_every_site_once(lines, expected) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)) as raised:
        training.mirror_users(ENVS["staging"], lines)
    assert "justapassword" not in str(raised.value) and "aaaa" not in str(raised.value)   # no secret in errors
