"""Fixtures: a scripted Elasticsearch endpoint and an ElasticsearchStore wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from sentinel.store.elasticsearch import ElasticsearchStore
from sentinel.store.es_bulk import BulkLimits, DeadLetter
from tests.store.es_sim import SimServer


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = SimServer()
    yield server
    server.close()


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
