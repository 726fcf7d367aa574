"""Policy-as-code shared by the gate (`edgeai validate`) and the Pulumi policy pack (policies/pulumi)."""
