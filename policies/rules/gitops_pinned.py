from edgeai.semantics import PINNED_REVISION
from policies.engine import Rule


def check(_, ctx):
    env = ctx.environment
    revision = (env.get("gitops") or {}).get("targetRevision", "")
    if env.get("tier") == "production" and not PINNED_REVISION.match(revision):
        yield None, f"production tracks '{revision}', a moving revision"


RULE = Rule(
    id="EAI-GIT-001", title="Production sites sync a pinned revision", severity="error",
    scope="environment",
    rationale="A branch moves under the sites: every merge reaches production without the release "
              "step, and two sites may run two revisions.",
    remediation="Set gitops.targetRevision to a release tag or a commit hash.",
    check=check)
