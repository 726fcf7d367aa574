"""End-to-end tests of the workflows on a real kind cluster: the `local` site, deployed by `edgeai up`
exactly as `make up` does (node image, images and registry built here), once for all of them.

The cluster is the developer's own `edgeai-local-local` (the site's node ports are mapped to fixed
host ports, so two such clusters cannot run side by side): a run that created it deletes it after
the last e2e test (not at the end of the session: the tests after these need the 2 cores), one that
found it running leaves it running. Under CI=true the session starts from a new
cluster, and nothing skips: without a container engine the tests fail.
"""

from __future__ import annotations

import os
import sys

import pytest

from tests.e2e import realtime_site as rt
from tests.e2e.kindsite import KindSite, deploy_local_site

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="package")
def site() -> KindSite:
    from edgeai.cluster import container_engine
    if container_engine() is None:
        message = "no container engine answers (`docker info` fails): bash scripts/setup.sh starts one"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    found, created = deploy_local_site()
    print(f"\n{found.deploy_output}", file=sys.stderr)
    yield found
    if created and not os.environ.get("EDGEAI_E2E_KEEP"):
        found.down()


@pytest.fixture
def receiver(site: KindSite):
    """The example alert receivers' webhook sink (namespace edgeai-alert-receiver, the URLs of
    environments/local), started once Alertmanager is Ready, removed after the test."""
    site.kubectl.run("wait", "-n", "edgeai-monitoring", "--for=condition=Ready", "pod/monitoring-alertmanager-0",
                     "--timeout=180s", timeout=200)
    rt.start_receiver(site)
    yield
    rt.stop_receiver(site)
