"""Fixtures: a scripted Elasticsearch endpoint checked against Elastic's API specification, and a store on it.

Every request the code under test sends to the ``sim`` fixture is matched to
its endpoint in the specification and checked (path, query parameters, body),
and every answer the simulator gives is checked against the endpoint's
response type; a test fails at teardown if anything did not conform.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from sentinel.store.elasticsearch import ElasticsearchStore
from sentinel.store.es_bulk import BulkLimits, DeadLetter
from tests.store.es_sim import MiniCluster, SimServer
from tests.store.es_spec import Spec, load_spec


@pytest.fixture(scope="session")
def es_spec() -> Spec:
    """Elastic's compiled specification, parsed once per test session."""
    try:
        return load_spec()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def sim(es_spec: Spec) -> Iterator[SimServer]:
    server = SimServer(MiniCluster(spec=es_spec))
    yield server
    server.close()
    problems = server.cluster.problems
    assert not problems, f"{len(problems)} exchange(s) break Elastic's API specification:\n" + "\n".join(problems[:20])


@pytest.fixture
def sim_client(sim: SimServer) -> Iterator[Elasticsearch]:
    client = Elasticsearch(sim.url, max_retries=0, retry_on_status=(), request_timeout=5)
    yield client
    client.close()


@pytest.fixture
def sim_store(sim_client: Elasticsearch, tmp_path: Path) -> Iterator[ElasticsearchStore]:
    store = ElasticsearchStore(
        sim_client,
        dead_letter=DeadLetter(tmp_path / "dead.sqlite"),
        limits=BulkLimits(max_retries=3, initial_backoff=0.001, max_backoff=0.01),
        url="sim",
    )
    yield store
    store.dead_letter.close()
