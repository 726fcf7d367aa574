"""The edgeai policy pack: `pulumi preview --policy-pack policies/pulumi` (from the repository root)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: policies, edgeai

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pulumi.pack import policies  # noqa: E402

PolicyPack(name="edgeai", enforcement_level=EnforcementLevel.MANDATORY, policies=policies(),
           description="edgeai policy rules (policies/rules) on Pulumi-managed Kubernetes objects")
