"""Integration tests against a real API server: the `local` cluster provider, up once per session."""

from __future__ import annotations

import pytest
from cluster_harness import LOCAL_CLUSTER, start_cluster, stop_cluster

from edgeai import fleet


@pytest.fixture(scope="session")
def local_cluster():
    """The `local` environment's cluster (provider local), up once for the session; down at the end."""
    cluster = start_cluster(LOCAL_CLUSTER, "local", "local")
    yield cluster
    stop_cluster(cluster)


@pytest.fixture(scope="session")
def local_env():
    return fleet.load_fleet(["local"])[0]
