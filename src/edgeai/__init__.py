"""Edge AI platform as code: the fleet as data, its composition and the tools around it."""
