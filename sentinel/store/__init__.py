"""Storage: one interface (:class:`Store`), an embedded SQLite default and Elasticsearch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.config import Settings
from sentinel.lazy import lazy_exports

if TYPE_CHECKING:
    from sentinel.store.base import Store

_EXPORTS = {
    "AlertQuery": "base",
    "And": "expr",
    "AppendResult": "base",
    "Appended": "base",
    "DeadLetter": "es_bulk",
    "ElasticsearchStore": "elasticsearch",
    "Encoded": "base",
    "EventPage": "base",
    "EventQuery": "base",
    "Expr": "expr",
    "InvalidChange": "alert_ops",
    "InvalidQuery": "base",
    "Or": "expr",
    "Prepare": "base",
    "QuerySyntaxError": "query",
    "SQLiteStore": "sqlite",
    "Store": "base",
    "StoreError": "base",
    "TemplateOptions": "es_templates",
    "Term": "expr",
    "apply_plan": "es_templates",
    "apply_roles": "es_roles",
    "build_plan": "es_templates",
    "check_cluster": "es_check",
    "encode_events": "base",
    "export_roles": "es_roles",
    "parse_expression": "query",
    "parse_query": "query",
    "service_roles": "es_roles",
}
__all__ = [*sorted(_EXPORTS), "open_store"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


def open_store(settings: Settings) -> Store:
    """The store the configuration names: Elasticsearch when a URL is set, else embedded SQLite."""
    if settings.uses_elasticsearch:
        from sentinel.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_settings(settings)
    from sentinel.store.sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_path)
