from policies.engine import Rule


def check(obj, ctx):
    if obj.get("data") or obj.get("stringData"):
        yield "Secret rendered with content"


RULE = Rule(
    id="EAI-SEC-010", title="Charts render no Secret content", severity="error",
    rationale="Whatever a chart renders is in Git and in the Argo CD Application; Secret content "
              "must come from the site stack (Pulumi secret config) instead.",
    remediation="Reference an existing Secret by name; let the Pulumi site stack create it.",
    check=check, kinds=frozenset({"Secret"}))
