"""The edge site stack (`<env>.<site>`): guardrails, secrets, Argo CD and one Application per release."""
