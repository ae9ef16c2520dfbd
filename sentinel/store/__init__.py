"""Storage: one interface (:class:`Store`), an embedded SQLite default and Elasticsearch."""

from __future__ import annotations

from sentinel.config import Settings
from sentinel.store.base import (
    AlertQuery,
    AppendResult,
    EventPage,
    EventQuery,
    InvalidQuery,
    NotFound,
    Store,
    StoreError,
    VersionConflict,
)

__all__ = [
    "AlertQuery",
    "AppendResult",
    "EventPage",
    "EventQuery",
    "InvalidQuery",
    "NotFound",
    "Store",
    "StoreError",
    "VersionConflict",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The store the configuration names: Elasticsearch when a URL is set, else embedded SQLite."""
    if settings.uses_elasticsearch:
        from sentinel.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_settings(settings)
    from sentinel.store.sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_path)
