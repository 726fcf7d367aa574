"""One module per rule; each defines RULE (policies.engine.Rule)."""
