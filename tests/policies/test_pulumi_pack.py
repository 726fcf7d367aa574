"""The Pulumi policy pack, offline: its validation functions on fake ResourceValidationArgs /
StackValidationArgs, with passing and failing resources (no Pulumi engine, no gRPC server)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from edgeai import paths
from policies.engine import all_rules
from policies.pulumi import pack

SITE_STACK = "prod.fra-store-001"
TRAINING_STACK = "prod.training"


def urn(stack: str, resource_type: str, name: str) -> str:
    return f"urn:pulumi:{stack}::edgeai::{resource_type}::{name}"


def policy(rule_id: str):
    [found] = [p for p in pack.policies() if p.name == rule_id]
    return found


def validate_resource(rule_id: str, resource_type: str, props: dict, stack: str = SITE_STACK) -> list[str]:
    """Run one ResourceValidationPolicy on one fake resource; the reported messages."""
    p = policy(rule_id)
    assert isinstance(p, ResourceValidationPolicy)
    reported: list[str] = []
    args = ResourceValidationArgs(resource_type=resource_type, props=props, urn=urn(stack, resource_type, "r"),
                                  name="r", opts=None, provider=None)
    p.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def validate_stack(rule_id: str, resources: list[tuple[str, dict]], stack: str = SITE_STACK) -> list[tuple[str, str]]:
    """Run one StackValidationPolicy on fake resources; the reported (message, urn)."""
    p = policy(rule_id)
    assert isinstance(p, StackValidationPolicy)
    reported: list[tuple[str, str]] = []
    fakes = [PolicyResource(resource_type=t, props=props, urn=urn(stack, t, f"r{i}"), name=f"r{i}", opts=None,
                            provider=None, parent=None, dependencies=[], property_dependencies={})
             for i, (t, props) in enumerate(resources)]
    p.validate(StackValidationArgs(resources=fakes), lambda message, urn=None: reported.append((message, urn)))
    return reported


def namespace(name: str, level: str | None = "restricted", version: bool = True) -> dict:
    labels = {}
    if level:
        labels["pod-security.kubernetes.io/enforce"] = level
        if version:
            labels["pod-security.kubernetes.io/enforce-version"] = "v1.31"
    return {"metadata": {"name": name, "labels": labels}}


SECURE = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
          "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def deployment(*, image: str = "docker.io/library/postgres:16.6", secure: bool = True, resources: bool = True,
               replicas: int = 1, name: str = "db", ns: str = "edgeai-training") -> dict:
    container = {"name": "main", "image": image, "ports": [{"name": "http", "containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                 "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "failureThreshold": 3,
                                   "periodSeconds": 10}}
    if secure:
        container["securityContext"] = dict(SECURE)
    if resources:
        container["resources"] = {"requests": {"cpu": "100m", "memory": "64Mi"},
                                  "limits": {"cpu": "1", "memory": "128Mi"}}
    labels = {"app.kubernetes.io/name": name}
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"automountServiceAccountToken": False,
                                           "securityContext": {"runAsNonRoot": True,
                                                               "seccompProfile": {"type": "RuntimeDefault"}},
                                           "containers": [container]}}}}


DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NAMESPACE = "kubernetes:core/v1:Namespace"


def test_every_object_and_site_rule_is_in_the_pack_once() -> None:
    names = [p.name for p in pack.policies()]
    assert len(names) == len(set(names))
    expected = {r.id for r in all_rules() if r.scope != "environment"} - set(pack.NOT_FOR_PULUMI)
    assert set(names) == expected
    assert {"EAI-NS-001", "EAI-SEC-001", "EAI-RES-001", "EAI-IMG-001"} <= set(names)


def test_enforcement_follows_the_rule_severity() -> None:
    by_id = {r.id: r for r in all_rules()}
    for p in pack.policies():
        want = EnforcementLevel.MANDATORY if by_id[p.name].severity == "error" else EnforcementLevel.ADVISORY
        assert p.enforcement_level == want, p.name
        assert p.remediation_steps == by_id[p.name].remediation


def test_the_pack_runs_the_rules_own_check(monkeypatch) -> None:
    """No copy of rule code: the pack calls Rule.check (replace it and the verdict follows)."""
    rule = next(r for r in all_rules() if r.id == "EAI-NS-001")
    import policies.rules.namespace_pod_security as module

    monkeypatch.setattr(module, "check", lambda obj, ctx: iter(["from the rule itself"]))
    swapped = type(rule)(**{**rule.__dict__, "check": module.check})
    assert pack.resource_violations(swapped, NAMESPACE, namespace("x"), urn(SITE_STACK, NAMESPACE, "x")) == [
        f"EAI-NS-001 {rule.title}: from the rule itself (fix: {rule.remediation})"]


@pytest.mark.parametrize(("resource_type", "api_version", "kind"), [
    ("kubernetes:core/v1:Namespace", "v1", "Namespace"),
    ("kubernetes:apps/v1:Deployment", "apps/v1", "Deployment"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "networking.k8s.io/v1", "NetworkPolicy"),
    ("kubernetes:argoproj.io/v1alpha1:Application", "argoproj.io/v1alpha1", "Application"),
])
def test_props_become_the_kubernetes_object(resource_type, api_version, kind) -> None:
    obj = pack.to_object(resource_type, {"metadata": {"name": "x"}, "spec": {"a": [1]}, "__inputs": {"y": 1}})
    assert obj == {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {"a": [1]}}


@pytest.mark.parametrize("resource_type", [
    "kubernetes:helm.sh/v3:Release", "kubernetes:yaml/v2:ConfigGroup", "pulumi:providers:kubernetes",
    "kubernetes:apps/v1:DeploymentPatch", "kubernetes:core/v1:ConfigMapList", "aws:s3/bucket:Bucket",
])
def test_non_objects_are_not_judged(resource_type) -> None:
    assert pack.to_object(resource_type, {}) is None


def test_namespace_rule_passes_and_fails() -> None:
    assert validate_resource("EAI-NS-001", NAMESPACE, namespace("edgeai-kafka")) == []
    missing = validate_resource("EAI-NS-001", NAMESPACE, namespace("edgeai-kafka", level=None))
    assert len(missing) == 1 and "no pod-security.kubernetes.io/enforce label" in missing[0]
    weaker = validate_resource("EAI-NS-001", NAMESPACE, namespace("edgeai-kafka", level="baseline"))
    assert len(weaker) == 1 and "weaker than the 'restricted'" in weaker[0]
    unpinned = validate_resource("EAI-NS-001", NAMESPACE, namespace("edgeai-kafka", version=False))
    assert len(unpinned) == 1 and "enforce-version" in unpinned[0]
    # the log agent's namespace is declared privileged (edgeai.catalog): privileged passes there
    assert validate_resource("EAI-NS-001", NAMESPACE, namespace("edgeai-log-agent", level="privileged")) == []


def test_pod_security_rule_passes_and_fails() -> None:
    assert validate_resource("EAI-SEC-001", DEPLOYMENT, deployment()) == []
    found = validate_resource("EAI-SEC-001", DEPLOYMENT, deployment(secure=False))
    assert any("allowPrivilegeEscalation" in m for m in found) and all(m.startswith("EAI-SEC-001 ") for m in found)


def test_resources_rule_passes_and_fails() -> None:
    assert validate_resource("EAI-RES-001", DEPLOYMENT, deployment()) == []
    found = validate_resource("EAI-RES-001", DEPLOYMENT, deployment(resources=False))
    assert found and "has no requests for cpu, memory" in found[0]


def test_image_rules_pass_and_fail() -> None:
    assert validate_resource("EAI-IMG-001", DEPLOYMENT, deployment()) == []
    assert validate_resource("EAI-IMG-001", DEPLOYMENT, deployment(image="docker.io/library/postgres:latest"))
    # the environment of the stack (from the URN) decides the registries: prod lists its registries
    # (docker.io among them), local pulls from its site registry alone (images.mirror)
    assert validate_resource("EAI-IMG-002", DEPLOYMENT, deployment()) == []
    elsewhere = deployment(image="registry.elsewhere.example/x/y:1.0")
    found = validate_resource("EAI-IMG-002", DEPLOYMENT, elsewhere)
    assert found and "pulls from registry.elsewhere.example" in found[0]
    mirror = yaml.safe_load((paths.ENVIRONMENTS / "local/environment.yaml").read_text())["images"]["mirror"]
    mirrored = deployment(image=f"{mirror}/x/y:1.0")
    assert validate_resource("EAI-IMG-002", DEPLOYMENT, mirrored, stack="local.local") == []
    [on_local] = validate_resource("EAI-IMG-002", DEPLOYMENT, elsewhere, stack="local.local")
    assert f"not one of {mirror}" in on_local


def test_waivers_mean_what_they_mean_to_the_gate(monkeypatch) -> None:
    """A violation covered by an unexpired waiver of the stack's environment is not reported, with the
    gate's matching (edgeai.waivers): rule; site or none (a training stack is no site); object or none."""
    assert (yaml.safe_load((paths.ENVIRONMENTS / "prod/environment.yaml").read_text())["images"]
            ["requireDigest"]) is True
    tagged = deployment()           # docker.io/library/postgres:16.6, no digest
    # the shipped prod waives EAI-IMG-003 (no site, no object) until the release mirror resolves digests
    assert validate_resource("EAI-IMG-003", DEPLOYMENT, tagged, stack=SITE_STACK) == []
    assert validate_resource("EAI-IMG-003", DEPLOYMENT, tagged, stack=TRAINING_STACK) == []

    def verdict(waiver: dict | None, site: str | None = "fra-store-001") -> list[str]:
        environment = {"images": {"requireDigest": True}, "waivers": [waiver] if waiver else []}
        facts = pack.StackFacts(training=site is None, environment=environment,
                                site={"name": site} if site else {})
        monkeypatch.setattr(pack, "facts", lambda stack: facts)
        return validate_resource("EAI-IMG-003", DEPLOYMENT, tagged)

    def waiver(**fields) -> dict:
        return {"rule": "EAI-IMG-003", "reason": "resolved at release", "expires": "2999-12-31", **fields}

    assert len(verdict(None)) == 1
    assert verdict(waiver()) == []
    assert len(verdict(waiver(expires="2001-01-01"))) == 1         # expired: waives nothing
    assert len(verdict(waiver(rule="EAI-IMG-001"))) == 1            # another rule
    assert verdict(waiver(site="fra-store-001")) == []
    assert len(verdict(waiver(site="ber-factory-01"))) == 1         # another site
    assert verdict(waiver(object="Deployment/edgeai-training/db")) == []
    assert len(verdict(waiver(object="Deployment/edgeai-training/other"))) == 1
    assert verdict(waiver(), site=None) == []                       # training stack: no site named
    assert len(verdict(waiver(site="fra-store-001"), site=None)) == 1
    # stack policies too: a replicated Deployment without its PDB, waived by object
    replicated = deployment(replicas=2, name="api")
    facts = pack.StackFacts(training=True, environment={"waivers": [
        {"rule": "EAI-REL-001", "object": "Deployment/edgeai-training/api", "reason": "one-off migration",
         "expires": "2999-12-31"}]})
    monkeypatch.setattr(pack, "facts", lambda stack: facts)
    assert validate_stack("EAI-REL-001", [(DEPLOYMENT, replicated)], stack=TRAINING_STACK) == []


def test_cross_object_rules_see_the_whole_stack() -> None:
    """A replicated Deployment needs a PodDisruptionBudget: judged over every resource of the stack."""
    replicated = deployment(replicas=2, name="api", ns="edgeai-training")
    [(message, where)] = validate_stack("EAI-REL-001", [(DEPLOYMENT, replicated)], stack=TRAINING_STACK)
    assert message.startswith("EAI-REL-001 ") and where == urn(TRAINING_STACK, DEPLOYMENT, "r0")
    pdb = {"metadata": {"name": "api", "namespace": "edgeai-training"},
           "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "api"}}}}
    assert validate_stack("EAI-REL-001", [(DEPLOYMENT, replicated),
                                          ("kubernetes:policy/v1:PodDisruptionBudget", pdb)],
                          stack=TRAINING_STACK) == []


def test_site_facts_come_from_the_stack_name() -> None:
    """A GPU pod on a site without GPUs fails; on a GPU site, or on the training cluster (not a
    declared site), it passes."""
    gpu = deployment(name="trainer")
    pod = gpu["spec"]["template"]["spec"]
    pod["containers"][0]["resources"] = {"requests": {"cpu": "2", "memory": "1Gi"},
                                         "limits": {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"}}
    assert validate_resource("EAI-GPU-001", DEPLOYMENT, gpu, stack="prod.fra-store-001")
    assert validate_resource("EAI-GPU-001", DEPLOYMENT, gpu, stack="prod.ber-factory-01") == []
    assert validate_resource("EAI-GPU-001", DEPLOYMENT, gpu, stack=TRAINING_STACK) == []


def test_secret_content_is_not_judged_on_pulumi_objects() -> None:
    assert "EAI-SEC-010" in pack.NOT_FOR_PULUMI
    assert "EAI-SEC-010" not in {p.name for p in pack.policies()}


def test_unknown_stacks_get_catalog_facts_only() -> None:
    facts = pack.facts(None)
    assert facts.environment == {} and facts.namespaces["edgeai-log-agent"] == "privileged"
    assert pack.stack_of("urn:pulumi:dev::otherproject::kubernetes:core/v1:Namespace::x") is None
    assert pack.stack_of(urn("prod.fra-store-001", NAMESPACE, "x")) == "prod.fra-store-001"


def test_pack_files() -> None:
    root = paths.ROOT / "policies" / "pulumi"
    meta = yaml.safe_load((root / "PulumiPolicy.yaml").read_text())
    assert meta["runtime"]["name"] == "python" and meta["version"]
    venv = (root / meta["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (paths.ROOT / ".venv").resolve()
    main = (root / "__main__.py").read_text()
    assert "PolicyPack(" in main and "policies()" in main
    requirements = (root / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements
    assert Path(pack.__file__).parent == root


def test_a_failing_resource_in_a_copy_of_a_real_stack_object() -> None:
    """Start from a resource the site stack really creates (a labelled namespace), break it."""
    good = namespace("edgeai-redis")
    bad = copy.deepcopy(good)
    bad["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    assert validate_resource("EAI-NS-001", NAMESPACE, good) == []
    assert validate_resource("EAI-NS-001", NAMESPACE, bad)
