from policies.engine import Rule


def check(_, ctx):
    for name in sorted(ctx.models):
        if not ctx.placement.get(name):
            yield {"kind": "Model", "metadata": {"name": name}}, "runs on no site of the environment"


RULE = Rule(
    id="EAI-MDL-001", title="Every model runs on at least one site", severity="error", scope="environment",
    rationale="A model that no site can run (no site in its regions, or none with enough GPUs) is a "
              "change that silently does nothing.",
    remediation="Fix the model's regions or gpu, or add a site that can run it.",
    check=check)
