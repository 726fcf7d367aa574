"""Real-engine tests: fixtures shared by the session (one broker, one Redis, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realengines import engines
from tests.realengines.engines import API_KEY, LOCAL, PROD_3_NODES, REDIS_PASSWORD


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.engines)


@pytest.fixture(scope="session")
def local_site() -> dict[str, list[dict]]:
    return engines.rendered_site(*LOCAL)


@pytest.fixture(scope="session")
def prod_site() -> dict[str, list[dict]]:
    return engines.rendered_site(*PROD_3_NODES)


@pytest.fixture(scope="session")
def session_procs() -> Iterator[engines.Processes]:
    with engines.processes() as procs:
        yield procs


@pytest.fixture(scope="session")
def kafka_local(local_site, session_procs, tmp_path_factory) -> engines.KafkaCluster:
    """The local site's one broker, started by its rendered start.sh, topics created by its rendered
    topics Job script: shared by every test of the session that needs Kafka."""
    engines.require("java", "kafka", "siddhi")
    cluster = engines.KafkaCluster(local_site["kafka"], tmp_path_factory.mktemp("kafka-local"), session_procs)
    cluster.start()
    cluster.run_topics_job()
    return cluster


@pytest.fixture(scope="session")
def local_engines(local_site, kafka_local, session_procs, tmp_path_factory) -> engines.LocalSite:
    engines.require("redis", "nginx", "mlserver")
    return engines.LocalSite(local_site, kafka_local, tmp_path_factory.mktemp("local-site"), session_procs,
                             REDIS_PASSWORD, API_KEY)
