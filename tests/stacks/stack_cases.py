"""The stacks of every environment, run under Pulumi's own mocks once per test session.

Each stack is run once per test session (`site_run`, `training_run` are cached) and every test
asserts on the recorded, plain data: running a program again per test would only repeat the
same registrations (and each run installs fresh mocks, so no state leaks from one to the next).
"""

from __future__ import annotations

import functools
import sys

from edgeai import fleet, paths
from edgeai import stacks as naming

if str(paths.ROOT) not in sys.path:  # `import stacks` (the Pulumi programs live at the root)
    sys.path.insert(0, str(paths.ROOT))

import stack_harness  # noqa: E402

from stacks.edge_site import site as edge_site  # noqa: E402
from stacks.training import training  # noqa: E402

ENVS = {e.name: e for e in fleet.load_fleet()}
SITES = [(e.name, s) for e in ENVS.values() for s in sorted(e.sites)]
SITE_IDS = [f"{e}.{s}" for e, s in SITES]
EXTERNAL_STORE = "https://s3.example-cloud.net"
STORE_MODES = ("in-cluster", "external")
TRAININGS = [(e, mode) for e in ENVS for mode in STORE_MODES]
TRAINING_IDS = [f"{e}.training-{mode}" for e, mode in TRAININGS]


def secret_value(stack: str, key: str) -> str:
    """A recognisable fake secret, different per stack and key (so a leak can be searched for)."""
    return f"SECRET::{stack}::{key}::p@ss/w:rd"


def config_for(stack: str, keys: tuple[naming.ConfigKey, ...], extra: dict[str, str] | None = None):
    secrets = {k.full: secret_value(stack, k.key) for k in keys if k.secret and k.required}
    env = ENVS.get(stack.split(".")[0])
    if env and "edgeai:kafkaMirrorPasswords" in secrets:   # lines the training stack checks against the fleet
        secrets["edgeai:kafkaMirrorPasswords"] = mirror_passwords(env)
    return {**secrets, **(extra or {})}, sorted(secrets)


def mirror_password(env_name: str, site: str) -> str:
    """A site's SCRAM password in the training stack's kafkaMirrorPasswords (the charset the chart takes)."""
    return f"MIRROR-{env_name}-{site}-0123456789"


def mirror_passwords(env) -> str:
    return "".join(f"{s} {mirror_password(env.name, s)}\n" for s in sorted(env.sites))


def training_outputs(env_name: str, endpoint: str | None = EXTERNAL_STORE) -> dict[str, str]:
    """What the environment's training stack exports (its own plan, not a hand-written copy)."""
    return training.plan(ENVS[env_name], endpoint).outputs()


def run_site(env, site, *, extra_config: dict[str, str] | None = None,
             outputs: dict[str, str] | None = None, org: str = naming.DEFAULT_ORG) -> stack_harness.Run:
    stack = str(naming.StackName(env.name, site.name))
    config, secret_keys = config_for(stack, naming.SITE_CONFIG, extra_config)
    reference = naming.training_stack(env.name, org)
    return stack_harness.run(
        lambda: edge_site.build(env, site, edge_site.SiteConfig.from_pulumi()), stack=stack, config=config,
        secret_keys=secret_keys,
        stack_outputs={reference: outputs if outputs is not None else training_outputs(env.name)})


def run_training(env, endpoint: str | None) -> stack_harness.Run:
    stack = str(naming.StackName(env.name))
    extra = {"edgeai:objectStoreEndpoint": endpoint} if endpoint else {}
    config, secret_keys = config_for(stack, naming.TRAINING_CONFIG, extra)
    return stack_harness.run(lambda: training.build(env, training.TrainingConfig.from_pulumi()),
                             stack=stack, config=config, secret_keys=secret_keys)


@functools.cache
def site_run(env_name: str, site_name: str) -> stack_harness.Run:
    env = ENVS[env_name]
    return run_site(env, env.sites[site_name])


@functools.cache
def training_run(env_name: str, mode: str) -> stack_harness.Run:
    return run_training(ENVS[env_name], None if mode == "in-cluster" else EXTERNAL_STORE)
