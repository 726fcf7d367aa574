"""The Pulumi policy pack (CrossGuard): the policy rules of policies/rules on Pulumi-managed objects.

Run with `pulumi preview --policy-pack policies/pulumi` (or `pulumi up --policy-pack ...`).
The validation functions live in `pack.py` so that tests import them without starting the
pack's gRPC server (which `__main__.py` does).
"""
