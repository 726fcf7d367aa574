"""Stack tests: the Pulumi programs under Pulumi's own mocks, once per stack of every environment."""

from __future__ import annotations

import pytest
from stack_cases import ENVS, SITE_IDS, SITES, TRAINING_IDS, TRAININGS, site_run, training_run


@pytest.fixture(params=SITES, ids=SITE_IDS)
def site_case(request):
    """(environment, site, recorded run) for every site of every environment."""
    env_name, site_name = request.param
    env = ENVS[env_name]
    return env, env.sites[site_name], site_run(env_name, site_name)


@pytest.fixture(params=TRAININGS, ids=TRAINING_IDS)
def training_case(request):
    """(environment, store mode, recorded run) for every environment's training stack."""
    env_name, mode = request.param
    return ENVS[env_name], mode, training_run(env_name, mode)
