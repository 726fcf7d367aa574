"""The edge site stack of every site of every environment, under Pulumi's mocks."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import yaml
from stack_cases import ENVS, config_for, run_site, secret_value, training_outputs

from edgeai import catalog, composition, paths, tools
from edgeai import stacks as naming
from edgeai.capacity import quantity
from edgeai.gitops import argocd as gitops_argocd
from stacks import cloud
from stacks.common import NAMESPACE_NAME_LABEL
from stacks.edge_site import argocd, guardrails

PSS = "pod-security.kubernetes.io"
BASELINE_POLICIES = {"default-deny", "allow-dns"}
ARGOCD_POLICIES = {"argocd-internal", "argocd-api-server-egress", "argocd-repo-server-git-egress"}


def namespaces_of(env, site) -> dict[str, str]:
    return {argocd.NAMESPACE: "restricted", **composition.namespaces(composition.compose(env, site))}


def expected_secrets(env, site) -> set[tuple[str, str]]:
    present = {r.component for r in composition.compose(env, site)}
    wanted = {("redis-auth", "redis"), ("redis-auth", "siddhi"), ("kafka-mirror-target", "kafka"),
              ("grafana-admin", "monitoring"),
              ("gateway-api-keys", "gateway"), ("gateway-tls", "gateway"), ("cep-api-key", "siddhi"),
              ("kafka-external-tls", "kafka"), ("kafka-external-users", "kafka"),
              ("model-storage", "model-serving"),
              ("redis-snapshot-storage", "redis"), ("redis-query-auth", "redis"),
              ("elasticsearch-credentials", "logging"),
              ("log-agent-elasticsearch", "log-agent"),
              # device ingest, on the sites that declare it: the gateway's copy of the device keys
              ("gateway-tls", "ingest"), ("ingest-devices", "ingest"), ("ingest-devices", "gateway"),
              ("ingest-bridge", "ingest")}
    return {(catalog.COMPONENTS[c].namespace, name) for name, c in wanted if c in present
            if not name.startswith("ingest-") or "ingest" in present}   # catalog: only_with="ingest"


def test_resource_kinds_and_counts(site_case) -> None:
    env, site, run = site_case
    releases = composition.compose(env, site)
    n = len(namespaces_of(env, site))
    assert Counter(r.kind for r in run.resources) == Counter({
        "kubernetes": 1, "StackReference": 1, "Namespace": n, "ResourceQuota": n, "LimitRange": n,
        "NetworkPolicy": 2 * n + len(ARGOCD_POLICIES), "Secret": len(expected_secrets(env, site)),
        "ConfigGroup": 1, "AppProject": 1, "Application": 1})
    assert releases   # one root Application however many releases: it tracks deploy/<env>/<site>/


def test_every_object_goes_to_the_site_provider(site_case) -> None:
    _, _, run = site_case
    [provider] = run.of_type("kubernetes")
    assert provider.type == "pulumi:providers:kubernetes"
    for r in run.resources:
        if r.type.startswith("kubernetes:"):
            assert r.provider.endswith(f"::{provider.name}::{provider.name}_id"), (r.name, r.provider)


def test_namespaces_are_labelled_for_pod_security(site_case) -> None:
    env, site, run = site_case
    version = "v" + ".".join(env.kubernetes_version.split(".")[:2])
    levels = namespaces_of(env, site)
    assert {ns.k8s_name for ns in run.of_type("Namespace")} == set(levels)
    for ns in run.of_type("Namespace"):
        labels = ns.metadata["labels"]
        assert labels[f"{PSS}/enforce"] == levels[ns.k8s_name]
        assert labels[f"{PSS}/audit"] == labels[f"{PSS}/warn"] == "restricted"
        assert labels[f"{PSS}/enforce-version"] == labels[f"{PSS}/audit-version"] == version
        assert labels[catalog.LABELS["site"]] == site.name
        assert labels[catalog.LABELS["environment"]] == env.name
    assert {n for n, lvl in levels.items() if lvl != "restricted"} <= {
        c.namespace for c in catalog.COMPONENTS.values() if c.pod_security != "restricted"}


def test_default_deny_and_dns_in_every_namespace_and_no_component_rules(site_case) -> None:
    env, site, run = site_case
    policies = {(p.namespace, p.k8s_name): p.inputs["spec"] for p in run.of_type("NetworkPolicy")}
    for ns in namespaces_of(env, site):
        deny = policies[(ns, "default-deny")]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        dns = policies[(ns, "allow-dns")]
        assert dns["policyTypes"] == ["Egress"] and dns["podSelector"] == {}
        [rule] = dns["egress"]
        assert {(p["protocol"], p["port"]) for p in rule["ports"]} == {("UDP", 53), ("TCP", 53)}
        assert rule["to"][0]["namespaceSelector"]["matchLabels"] == {NAMESPACE_NAME_LABEL: "kube-system"}
    # The allow rules between components ship inside the charts (values.networkPolicy); the stack
    # adds only the baseline everywhere and Argo CD's own rules in its namespace.
    extra = {(ns, name) for ns, name in policies if name not in BASELINE_POLICIES}
    assert extra == {(argocd.NAMESPACE, name) for name in ARGOCD_POLICIES}


def test_argocd_network_policies(site_case) -> None:
    env, _, run = site_case
    spec = {p.k8s_name: p.inputs["spec"] for p in run.of_type("NetworkPolicy") if p.namespace == argocd.NAMESPACE}
    git = spec["argocd-repo-server-git-egress"]
    assert git["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "argocd-repo-server"}}
    assert [p["port"] for p in git["egress"][0]["ports"]] == argocd.git_ports(env.gitops["repoURL"])
    assert argocd.git_ports(env.gitops["repoURL"]) == ([8080] if env.name == "local" else [443])
    api = spec["argocd-api-server-egress"]
    assert "argocd-application-controller" in api["podSelector"]["matchExpressions"][0]["values"]
    assert {p["port"] for p in api["egress"][0]["ports"]} == {443, 6443}


@pytest.mark.parametrize(("url", "ports"), [
    ("https://github.com/x/y.git", [443]), ("https://git.example.com:8443/x.git", [8443]),
    ("ssh://git@example.com/x.git", [22]), ("ssh://git@example.com:2222/x.git", [2222]),
    ("git@github.com:x/y.git", [22]), ("http://edgeai-git:8080/git/edgeai.git", [8080]),
])
def test_git_egress_follows_the_repository_url(url, ports) -> None:
    assert argocd.git_ports(url) == ports


def test_quotas_and_limit_ranges_follow_the_site_capacity(site_case) -> None:
    env, site, run = site_case
    keep = (100 - composition.settings()["capacityHeadroomPercent"]) / 100
    gpus = site.gpus_per_node * site.node_count
    quotas = {q.namespace: q.inputs["spec"]["hard"] for q in run.of_type("ResourceQuota")}
    assert set(quotas) == set(namespaces_of(env, site))
    for ns, hard in quotas.items():
        assert quantity(hard["requests.cpu"]) == pytest.approx(site.cpu_total * keep, abs=1e-3)
        assert quantity(hard["requests.memory"]) == pytest.approx(site.memory_gi_total * 2**30 * keep, rel=1e-3)
        assert quantity(hard["limits.cpu"]) >= site.cpu_total
        assert quantity(hard["limits.memory"]) >= site.memory_gi_total * 2**30
        assert int(hard["requests.nvidia.com/gpu"]) == (gpus if ns == catalog.COMPONENTS["model-serving"].namespace
                                                        else 0)
    for lr in run.of_type("LimitRange"):
        [item] = lr.inputs["spec"]["limits"]
        assert item["type"] == "Container"
        assert quantity(item["max"]["cpu"]) == pytest.approx(site.nodes["cpu"] * keep, abs=1e-3)
        assert quantity(item["max"]["memory"]) <= site.memory_gi_total / site.node_count * 2**30
        cpu = [quantity(item[k]["cpu"]) for k in ("defaultRequest", "default", "max")]
        assert cpu == sorted(cpu)


def test_quotas_are_derived_not_constant() -> None:
    prod = ENVS["prod"]
    sizes = {s.cpu_total for s in prod.sites.values()}
    hard = {guardrails.quota_hard(s, "edgeai-kafka")["requests.cpu"] for s in prod.sites.values()}
    assert len(sizes) > 1 and len(hard) == len(sizes)


def test_secrets_come_from_secret_config_and_stay_secret(site_case) -> None:
    env, site, run = site_case
    stack = f"{env.name}.{site.name}"
    secrets = {(s.namespace, s.k8s_name): s for s in run.of_type("Secret")}
    assert set(secrets) == expected_secrets(env, site)
    for (_, name), secret in secrets.items():
        assert secret.secret_inputs == {"stringData"}, name      # the engine received it as a secret
        assert "data" not in secret.inputs
    data = {name: s.inputs["stringData"] for (_, name), s in secrets.items()}
    assert data["redis-auth"] == {"password": secret_value(stack, "redisPassword")}
    assert data["redis-query-auth"] == {"password": secret_value(stack, "redisQueryPassword")}
    # ca.crt: config kafkaMirrorCA, not set here (the JVM's public CAs)
    assert data["kafka-mirror-target"] == {"username": site.name,
                                           "password": secret_value(stack, "kafkaMirrorPassword"), "ca.crt": ""}
    assert data["grafana-admin"] == {"admin-user": "admin",
                                     "admin-password": secret_value(stack, "grafanaAdminPassword")}
    assert data["gateway-api-keys"] == {"keys": secret_value(stack, "gatewayApiKeys"),
                                        "internal-keys": secret_value(stack, "cepApiKey")}
    if "cep-api-key" in data:
        assert data["cep-api-key"] == {"key": secret_value(stack, "cepApiKey")}
    if "gateway-tls" in data:   # the external listeners' certificate, typed for TLS
        assert data["gateway-tls"] == {"tls.crt": secret_value(stack, "gatewayTlsCert"),
                                       "tls.key": secret_value(stack, "gatewayTlsKey")}
        assert {s.inputs.get("type") for (_, name), s in secrets.items() if name == "gateway-tls"} == \
            {"kubernetes.io/tls"}
    if "kafka-external-tls" in data:   # Kafka's external listener: certificate and SCRAM users
        assert data["kafka-external-tls"] == {"tls.crt": secret_value(stack, "kafkaExternalTlsCert"),
                                              "tls.key": secret_value(stack, "kafkaExternalTlsKey")}
        assert data["kafka-external-users"] == {"users": secret_value(stack, "kafkaExternalUsers")}
    if "ingest" in {r.component for r in composition.compose(env, site)}:
        assert data["ingest-devices"] == {"devices": secret_value(stack, "ingestDeviceKeys")}
        assert data["ingest-bridge"] == {"password": secret_value(stack, "ingestBridgePassword")}
    else:
        assert "ingest-devices" not in data, "device keys only where devices send"
    writer = secret_value(stack, "logWriterPassword")
    if "log-agent-elasticsearch" in data:
        logging_values = yaml.safe_load((paths.CHARTS / "logging" / "values.yaml").read_text())
        assert data["log-agent-elasticsearch"] == {
            "username": logging_values["elasticsearch"]["security"]["writerUser"], "password": writer}
    if "elasticsearch-credentials" in data:
        assert data["elasticsearch-credentials"] == {
            "elastic-password": secret_value(stack, "elasticPassword"),
            "kibana-password": secret_value(stack, "kibanaPassword"),
            "log-writer-password": writer,
            "metrics-password": secret_value(stack, "elasticsearchMetricsPassword")}
    rclone = data["redis-snapshot-storage"]["rclone.conf"]
    assert f"endpoint = {training_outputs(env.name)[cloud.OBJECT_STORE_ENDPOINT]}" in rclone
    assert f"secret_access_key = {secret_value(stack, 'objectStoreSecretAccessKey')}" in rclone
    assert rclone.startswith(f"[{cloud.RCLONE_REMOTE}]\n")
    if "model-storage" in data:
        assert data["model-storage"] == data["redis-snapshot-storage"]


def test_no_secret_reaches_the_outputs(site_case) -> None:
    env, site, run = site_case
    assert run.secret_outputs == frozenset()
    text = run.plain_outputs_text()
    assert "SECRET::" not in text
    for key in naming.SITE_CONFIG:
        assert secret_value(f"{env.name}.{site.name}", key.key) not in text
    # nothing but Secrets (and the provider, whose kubeconfig is unset here) carries a secret input
    assert {r.kind for r in run.resources if r.secret_inputs} <= {"Secret"}


def _containers(objs):
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet"):
            spec = o["spec"]["template"]["spec"]
            yield from spec.get("initContainers", []) + spec["containers"]


def test_argocd_core_install_built_here_at_the_pinned_version(site_case) -> None:
    env, _, run = site_case
    [install] = run.of_type("ConfigGroup")
    objs = install.inputs["objs"]
    assert objs == gitops_argocd.install_objects(env)
    version = tools.pinned_versions()["ARGOCD_VERSION"]
    registry = env.config.get("images", {}).get("mirror") or "ghcr.io"
    images = {c["image"] for c in _containers(objs)}
    assert images == {f"{registry}/edgeai-platform/argocd:v{version}", f"{registry}/edgeai-platform/redis:7.0.15"}
    for c in _containers(objs):
        assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {"cpu", "memory",
                                                                                  "ephemeral-storage"}
    kinds = {o["kind"] for o in objs}
    assert "CustomResourceDefinition" in kinds and not any("applicationset-controller" in o["metadata"]["name"]
                                                           for o in objs)
    assert all(o["metadata"].get("namespace") == argocd.NAMESPACE for o in objs
               if o["kind"] not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"))
    cm = next(o for o in objs if o["metadata"]["name"] == "argocd-cm")["data"]
    if env.gitops.get("pollSeconds"):
        assert cm["timeout.reconciliation"] == f"{env.gitops['pollSeconds']}s"


def _variant(env, **gitops_and_images):
    """A copy of the environment with gitops / images settings changed (as a pull request would)."""
    changed = copy.deepcopy(env)
    data = changed.file.data
    for key, value in gitops_and_images.items():
        section, _, field = key.partition("__")
        data.setdefault(section, {})[field] = value
    return changed


def test_argocd_registry_override_for_air_gapped_sites() -> None:
    env = _variant(ENVS["staging"], gitops__argocdRegistry="mirror.example.com/edgeai")
    site = env.sites["stg-eu-1"]
    run = run_site(env, site)
    [install] = run.of_type("ConfigGroup")
    images = {c["image"] for c in _containers(install.inputs["objs"])}
    assert images and all(i.startswith("mirror.example.com/edgeai/edgeai-platform/") for i in images)


def test_app_project_confines_argocd(site_case) -> None:
    env, site, run = site_case
    releases = composition.compose(env, site)
    [project] = run.of_type("AppProject")
    spec = project.inputs["spec"]
    assert project.k8s_name == argocd.PROJECT and project.namespace == argocd.NAMESPACE
    assert spec["sourceRepos"] == [env.gitops["repoURL"]]
    assert spec["destinations"] == [{"server": argocd.IN_CLUSTER, "namespace": ns}
                                    for ns in sorted({r.namespace for r in releases})]
    kinds = {(k["group"], k["kind"]) for k in spec["clusterResourceWhitelist"]}
    components = {r.component for r in releases}
    assert kinds == {gk for c in components for gk in argocd.CLUSTER_RESOURCES.get(c, ())}
    assert ("", "Namespace") not in kinds
    assert {(k["group"], k["kind"]) for k in spec["namespaceResourceBlacklist"]} >= {("", "ResourceQuota")}


def test_one_root_application_tracks_the_sites_rendered_path(site_case) -> None:
    env, site, run = site_case
    [app] = run.of_type("Application")
    spec = app.inputs["spec"]
    source = spec["source"]
    assert app.k8s_name == argocd.root_application_name(site) and app.namespace == argocd.NAMESPACE
    assert source["repoURL"] == env.gitops["repoURL"]
    assert source["targetRevision"] == env.gitops["targetRevision"]
    assert source["path"] == f"deploy/{env.name}/{site.name}"
    assert (paths.ROOT / source["path"]).is_dir(), "run `edgeai gitops render` and commit deploy/"
    assert "helm" not in source        # no values inline: the rendered objects are in Git
    assert spec["project"] == argocd.PROJECT
    assert spec["destination"] == {"server": argocd.IN_CLUSTER,
                                   "namespace": composition.compose(env, site)[0].namespace}
    automated = spec["syncPolicy"]["automated"]
    assert automated == {"prune": env.gitops.get("prune", True), "selfHeal": env.gitops.get("selfHeal", True)}
    assert "CreateNamespace=false" in spec["syncPolicy"]["syncOptions"]
    assert app.metadata["finalizers"] == [argocd.FINALIZER]
    assert spec == argocd.root_application_spec(env, site)


def test_sync_waves_are_carried_by_the_rendered_objects(site_case) -> None:
    """One Application, many waves: every object in deploy/<env>/<site>/ carries its release's wave,
    and a component syncs after everything it needs."""
    env, site, _ = site_case
    releases = composition.compose(env, site)
    folder = paths.ROOT / "deploy" / env.name / site.name
    for release in releases:
        docs = [d for d in yaml.safe_load_all((folder / f"{release.name}.yaml").read_text()) if d]
        assert {d["metadata"]["annotations"][catalog.SYNC_WAVE_ANNOTATION] for d in docs} == {str(release.sync_wave)}
    components = {r.component: r.sync_wave for r in releases}
    for component, wave in components.items():
        for need in catalog.COMPONENTS[component].needs:
            if need in components:
                assert wave > components[need], (component, need)


def test_stack_reference_to_the_training_stack(site_case) -> None:
    env, _, run = site_case
    [ref] = run.of_type("StackReference")
    assert ref.name == naming.training_stack(env.name) == f"organization/edgeai/{env.name}.training"
    assert run.outputs["trainingStack"] == ref.name
    assert run.outputs["cloudEndpointsAgree"] is True
    assert run.outputs["modelStorageEndpoint"] == training_outputs(env.name)[cloud.OBJECT_STORE_ENDPOINT]


def test_the_org_of_the_training_stack_comes_from_config() -> None:
    env = ENVS["staging"]
    site = next(iter(env.sites.values()))
    run = run_site(env, site, extra_config={"edgeai:org": "acme"}, org="acme")
    assert [r.name for r in run.of_type("StackReference")] == ["acme/edgeai/staging.training"]


def test_a_training_stack_that_disagrees_with_the_environment_fails_the_update() -> None:
    env = ENVS["prod"]
    site = env.sites["fra-store-001"]
    outputs = {**training_outputs(env.name), cloud.INGEST_ENDPOINT: "kafka.elsewhere:9093"}
    with pytest.raises(ValueError, match="cloud.kafkaBootstrap"):
        run_site(env, site, outputs=outputs)


def test_a_missing_secret_is_an_error() -> None:
    env = ENVS["local"]
    site = env.sites["local"]
    stack = "local.local"
    config, secret_keys = config_for(stack, naming.SITE_CONFIG)
    del config["edgeai:gatewayApiKeys"]
    import stack_harness

    from stacks.edge_site import site as edge_site

    with pytest.raises(Exception, match="gatewayApiKeys"):
        stack_harness.run(lambda: edge_site.build(env, site, edge_site.SiteConfig.from_pulumi()), stack=stack,
                          config=config, secret_keys=secret_keys,
                          stack_outputs={naming.training_stack("local"): training_outputs("local")})


def test_kubeconfig_and_context_reach_the_provider() -> None:
    env = ENVS["local"]
    run = run_site(env, env.sites["local"], extra_config={"edgeai:kubeconfig": "apiVersion: v1\nkind: Config\n",
                                                          "edgeai:kubeContext": "edge-local"})
    [provider] = run.of_type("kubernetes")
    assert provider.inputs["context"] == "edge-local"
    assert yaml.safe_load(provider.inputs["kubeconfig"]) == {"apiVersion": "v1", "kind": "Config"}
    assert "kubeconfig" in provider.secret_inputs


def test_outputs_describe_the_site(site_case) -> None:
    env, site, run = site_case
    assert run.outputs["stack"] == f"{env.name}.{site.name}"
    assert run.outputs["namespaces"] == sorted(namespaces_of(env, site))
    assert [a["name"] for a in run.outputs["releases"]] == [r.name for r in composition.compose(env, site)]
    assert run.outputs["gitops"]["path"] == f"deploy/{env.name}/{site.name}"

