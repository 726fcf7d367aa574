"""The rules of policies/rules as Pulumi policies, on the Kubernetes objects a stack manages.

Nothing is re-implemented: a Kubernetes resource's Pulumi props are turned back into the object
they describe (apiVersion and kind from the type token) and evaluated with `policies.engine.evaluate`
and the very `Rule` objects the gate (`edgeai validate`) runs, so a rule's verdict is the same
whether it judges a rendered chart or a Pulumi resource.

- An object rule that judges one object alone becomes a ResourceValidationPolicy: it runs on each
  resource as the preview reaches it.
- A rule that needs the rest of the stack (it reads `ctx.objects`: a PDB for a Deployment, a
  binding for a service account, ...) or the whole site (site-scope rules) becomes a
  StackValidationPolicy over every Kubernetes resource of the stack. `pulumi up` previews first and
  evaluates these at the end of that preview, so a mandatory violation still stops the update
  (unless the preview is skipped: do not use --skip-preview with the pack).
- Environment-scope rules judge environments/ files: that is the gate's job, not the pack's.

Waivers mean here what they mean to the gate (`edgeai.waivers`): a violation covered by an unexpired
waiver of the stack's environment (its rule; its site, or none; its object, or none) is not
reported, since a mandatory policy cannot report a violation that does not block. A training stack
is no site: only waivers naming no site cover it. Expired and unused waivers are the gate's to
report, as it judges the environment files.

The rule context comes from the stack a resource belongs to: its URN names the stack, so
`<env>.<site>` loads that environment and site (and the Pod Security level the site's composition
gives each namespace), `<env>.training` the environment alone. The pack judges the objects Pulumi
manages; what the composition makes of environments/ (release values, models, placement) is the
gate's to judge, so site rules about those see no releases here.

Not seen by the pack: objects inside a `helm.v3.Release` (Helm installs them; Pulumi sees one
Release resource). The site stack installs only Argo CD that way; the releases Argo CD syncs are
checked by `edgeai validate` with the same rules.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from edgeai import catalog, waivers
from edgeai import stacks as naming
from edgeai.objects import violation_ref
from policies.engine import Context, Obj, Rule, all_rules, evaluate

PROJECT = "edgeai"
# Pulumi Kubernetes types that are not one Kubernetes object.
NOT_OBJECTS = ("helm.sh", "yaml", "kustomize")
DEFAULT_LEVEL = "restricted"
# Rules that do not apply to what Pulumi manages, and why.
NOT_FOR_PULUMI = {
    "EAI-SEC-010": "a Secret with content is exactly what the stacks create, from Pulumi secret config "
                   "(marked secret; tests/stacks prove it); the rule keeps charts from rendering one",
}


def _plain(value: Any) -> Any:
    """Props as the Kubernetes object has them: plain dicts and lists, integers as integers (the
    engine carries every number as a float: containerPort 9000 arrives as 9000.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def to_object(resource_type: str, props: Mapping[str, Any]) -> Obj | None:
    """The Kubernetes object a Pulumi resource describes, or None for anything else.

    `kubernetes:apps/v1:Deployment` -> apiVersion apps/v1, kind Deployment; `kubernetes:core/v1:...`
    -> apiVersion v1; custom resources keep their group (`kubernetes:argoproj.io/v1alpha1:Application`)."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    group, _, version = parts[1].rpartition("/")
    kind = parts[2]
    if group in NOT_OBJECTS or not version or kind.endswith(("List", "Patch")):
        return None
    obj = _plain(props)
    obj.setdefault("apiVersion", version if group in ("", "core") else f"{group}/{version}")
    obj.setdefault("kind", kind)
    obj.setdefault("metadata", {})
    return obj


def stack_of(urn: str) -> str | None:
    """urn:pulumi:<stack>::<project>::<type>::<name> -> <stack> (for this project only)."""
    if not urn.startswith("urn:pulumi:"):
        return None
    stack, _, rest = urn[len("urn:pulumi:"):].partition("::")
    return stack if rest.split("::", 1)[0] == PROJECT else None


@dataclass(frozen=True)
class StackFacts:
    """What the rules may know about a stack, from environments/ (empty for an unknown stack)."""
    training: bool = False
    environment: dict[str, Any] = field(default_factory=dict)
    site: dict[str, Any] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)

    def waived(self, rule: Rule, obj: Obj) -> bool:
        """Is the violation covered by an unexpired waiver of the environment (as the gate says)?"""
        listed = waivers.of(self.environment)
        site = self.site.get("name", "")
        return waivers.covering(listed, rule.id, site, violation_ref(obj), dt.date.today()) is not None


CATALOG_LEVELS = {c.namespace: c.pod_security for c in catalog.COMPONENTS.values()}


@functools.cache
def facts(stack: str | None) -> StackFacts:
    if stack is None:
        return StackFacts(namespaces=dict(CATALOG_LEVELS))
    try:
        name = naming.parse(stack)
        env, site = naming.resolve(name)
    except Exception:  # noqa: BLE001 - a stack of another project or a broken checkout: no facts
        return StackFacts(namespaces=dict(CATALOG_LEVELS))
    if site is None:
        return StackFacts(training=True, environment=env.config, namespaces=dict(CATALOG_LEVELS))
    from edgeai import composition

    return StackFacts(environment=env.config, site=site.file.data,
                      namespaces={**CATALOG_LEVELS, **composition.namespaces(composition.compose(env, site))})


def context(stack_facts: StackFacts, objects: Iterable[Obj], obj: Obj | None = None) -> Context:
    level = DEFAULT_LEVEL
    if obj is not None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("name") if obj.get("kind") == "Namespace" else meta.get("namespace")
        level = stack_facts.namespaces.get(namespace, DEFAULT_LEVEL)
    return Context(environment=stack_facts.environment, site=stack_facts.site, pod_security=level,
                   objects=tuple(objects), namespaces=dict(stack_facts.namespaces))


def _source(rule: Rule) -> str:
    module = inspect.getmodule(rule.check)
    return inspect.getsource(module) if module else ""


def needs_stack(rule: Rule) -> bool:
    """Does the rule judge against other objects (or the whole site)?"""
    return rule.scope != "object" or "ctx.objects" in _source(rule)


def judges_site_facts(rule: Rule) -> bool:
    """Does the rule compare with a site's declared nodes? Not for a training stack: its cluster
    is any Kubernetes cluster, not a site of environments/."""
    return "ctx.site" in _source(rule)


def applies(rule: Rule, stack_facts: StackFacts) -> bool:
    return not (stack_facts.training and judges_site_facts(rule))


def _message(rule: Rule, message: str) -> str:
    return f"{rule.id} {rule.title}: {message} (fix: {rule.remediation})"


def resource_violations(rule: Rule, resource_type: str, props: Mapping[str, Any], urn: str) -> list[str]:
    """A ResourceValidationPolicy's verdict on one resource."""
    obj = to_object(resource_type, props)
    stack_facts = facts(stack_of(urn))
    if obj is None or not applies(rule, stack_facts):
        return []
    return [_message(rule, v.message) for v in evaluate([obj], context(stack_facts, [obj], obj), [rule])
            if not stack_facts.waived(rule, v.obj)]


def stack_violations(rule: Rule,
                     resources: Iterable[tuple[str, Mapping[str, Any], str]]) -> list[tuple[str, str | None]]:
    """A StackValidationPolicy's verdict: (message, urn of the object or None for the stack)."""
    converted: list[tuple[Obj, str]] = []
    for resource_type, props, urn in resources:
        obj = to_object(resource_type, props)
        if obj is not None:
            converted.append((obj, urn))
    if not converted:
        return []
    stack_facts = facts(stack_of(converted[0][1]))
    if not applies(rule, stack_facts):
        return []
    urns = {id(obj): urn for obj, urn in converted}
    objects = [obj for obj, _ in converted]
    out = []
    for obj in objects if rule.scope == "object" else [None]:
        judged = [obj] if obj is not None else objects
        for v in evaluate(judged, context(stack_facts, objects, obj), [rule]):
            if not stack_facts.waived(rule, v.obj):
                out.append((_message(rule, v.message), urns.get(id(v.obj))))
    return out


def _enforcement(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.severity == "error" else EnforcementLevel.ADVISORY


def policy_for(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    description = f"{rule.title}. {rule.rationale}"
    if needs_stack(rule):
        def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            resources = [(r.resource_type, r.props, r.urn) for r in args.resources]
            for message, urn in stack_violations(rule, resources):
                report_violation(message, urn)

        return StackValidationPolicy(name=rule.id, description=description, validate=validate_stack,
                                     enforcement_level=_enforcement(rule), remediation_steps=rule.remediation)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in resource_violations(rule, args.resource_type, args.props, args.urn):
            report_violation(message, None)

    return ResourceValidationPolicy(name=rule.id, description=description, validate=validate,
                                    enforcement_level=_enforcement(rule), remediation_steps=rule.remediation)


def pack_rules() -> list[Rule]:
    """The rules the pack enforces: every object and site rule, except those not meant for Pulumi."""
    return [r for r in all_rules() if r.scope != "environment" and r.id not in NOT_FOR_PULUMI]


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [policy_for(rule) for rule in pack_rules()]
