"""Pulumi entry point (Pulumi.yaml: main: stacks/): the stack name says what to build.

`<env>.training` builds the environment's cloud side, `<env>.<site>` one edge site; both read
environments/<env>/ and nothing else except their secrets (stack settings in stacks/config/).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `import stacks` from the root

import pulumi  # noqa: E402

from edgeai import stacks as naming  # noqa: E402
from edgeai.problems import InputErrors  # noqa: E402

try:
    name = naming.parse(pulumi.get_stack())
    env, site = naming.resolve(name)
except InputErrors as err:
    raise pulumi.RunError(f"edgeai: cannot build stack {pulumi.get_stack()}:\n{err}") from None

if site is None:
    from stacks.training import training

    outputs = training.build(env, training.TrainingConfig.from_pulumi())
else:
    from stacks.edge_site import site as edge_site

    outputs = edge_site.build(env, site, edge_site.SiteConfig.from_pulumi())

for key, value in outputs.items():
    pulumi.export(key, value)
