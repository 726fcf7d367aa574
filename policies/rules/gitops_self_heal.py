from policies.engine import Rule


def check(_, ctx):
    env = ctx.environment
    gitops = env.get("gitops") or {}
    if env.get("tier") == "production":
        for key in ("prune", "selfHeal"):
            if gitops.get(key) is False:
                yield None, f"production turns off Argo CD {key}"


RULE = Rule(
    id="EAI-GIT-003", title="Production sites prune and self-heal", severity="warning", scope="environment",
    rationale="Without self-heal, a change made by hand on an unattended site stays forever; without "
              "prune, removed objects keep running.",
    remediation="Set gitops.prune and gitops.selfHeal to true.",
    check=check)
