"""Configuration alone switches the backend: no URL -> embedded SQLite, SENTINEL_ES_URL -> Elasticsearch."""

from __future__ import annotations

import base64

import pytest

from sentinel.config import load_settings
from sentinel.store import open_store
from sentinel.store.base import EventQuery, StoreError
from sentinel.store.elasticsearch import ElasticsearchStore
from sentinel.store.sqlite import SQLiteStore


def test_no_url_means_embedded_sqlite(tmp_path):
    store = open_store(load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)}))
    assert isinstance(store, SQLiteStore) and store.backend == "sqlite"
    store.close()


def test_url_means_elasticsearch_with_credentials(sim, tmp_path):
    env = {
        "SENTINEL_DATA_DIR": str(tmp_path),
        "SENTINEL_ES_URL": sim.url,
        "SENTINEL_ES_USERNAME": "sentinel",
        "SENTINEL_ES_PASSWORD": "s3cret",
        "SENTINEL_ES_NAMESPACE": "Hà Nội",
    }
    store = open_store(load_settings(env=env))
    assert isinstance(store, ElasticsearchStore) and store.backend == "elasticsearch"
    assert store.namespace == "ha_noi"
    assert store.dead_letter.path == tmp_path / "es-dead-letter.sqlite"
    store.get_event("x")  # a real request through the configured client, with its credentials
    sent = sim.cluster.requests[-1]
    assert sent.path == "/logs-sentinel.*/_search"
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"sentinel:s3cret").decode()
    store.close()


def test_missing_ca_file_is_reported(tmp_path):
    env = {
        "SENTINEL_DATA_DIR": str(tmp_path),
        "SENTINEL_ES_URL": "https://es.example:9200",
        "SENTINEL_ES_CA_CERTS": str(tmp_path / "missing.crt"),
    }
    with pytest.raises(StoreError, match="SENTINEL_ES_CA_CERTS"):
        open_store(load_settings(env=env))


def test_unreachable_cluster_is_a_store_error(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"SENTINEL_DATA_DIR": str(tmp_path), "SENTINEL_ES_URL": f"http://127.0.0.1:{port}"}
    store = open_store(load_settings(env=env))
    with pytest.raises(StoreError, match="cannot reach Elasticsearch"):
        store.count_events(EventQuery())
    store.close()
