"""A throw-away Sentinel deployment in the real cluster at ``SENTINEL_ES_URL``: its own prefix, removed afterwards.

Tests against a real cluster never write into the default ``sentinel`` names a deployment may be using.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentinel.config import load_settings
from sentinel.store.elasticsearch import ElasticsearchStore
from sentinel.store.es_templates import Names, TemplateOptions, apply_plan, build_plan


@contextmanager
def scratch_deployment(data_dir: Path) -> Iterator[ElasticsearchStore]:
    """Templates, streams and indices under a random prefix, deleted when the block ends."""
    settings = load_settings(env={**os.environ, "SENTINEL_DATA_DIR": str(data_dir)})
    names = Names(prefix=f"sentineltest{uuid.uuid4().hex[:8]}")
    store = ElasticsearchStore.from_settings(settings, refresh=True, names=names)
    plan = build_plan(TemplateOptions(replicas=0), names)
    apply_plan(store.client, plan)
    try:
        yield store
    finally:
        es = store.client
        es.indices.delete_data_stream(name=f"logs-{names.prefix}.*", expand_wildcards="all")
        es.indices.delete(index=f"{names.prefix}-*", ignore_unavailable=True, allow_no_indices=True)
        for name in plan["index_templates"]:
            es.indices.delete_index_template(name=name)
        for name in plan["component_templates"]:
            es.cluster.delete_component_template(name=name)
        es.ilm.delete_lifecycle(name=names.ilm_policy)
        store.close()
