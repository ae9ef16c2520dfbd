"""Builds the one ingest pipeline every entry point uses (CLI ingest, collectors, HTTP ingest, demo).

Order matters: enrichment first (so policies can see province/commune), then
personal-data protection (so raw values never reach the store), then store and
detection. Stages add their transform here, in one place; what they are built from
comes from the :class:`~sentinel.runtime.Runtime`.
"""

from __future__ import annotations

from sentinel.collect.addressplan import AddressPlan
from sentinel.ingest.pipeline import Pipeline, Transform
from sentinel.runtime import Runtime
from sentinel.store.base import Store


def build_pipeline(runtime: Runtime, store: Store, *, detect: bool = True, enrich: bool = True) -> Pipeline:
    """The configured pipeline: transforms, the store and (unless ``detect=False``) the Sigma engine.

    ``enrich=False`` when the events were enriched already (a collector's runner does it with
    the definition's own plan), so enrichment never runs twice on one path.
    """
    from sentinel.policy.purposes import ingest_transform

    transforms: list[Transform] = []
    if enrich and runtime.address_plan is not None:  # province, commune, unit and direction
        transforms.append(_enrich_with(runtime.address_plan))
    # personal data -> pseudonyms, before anything is stored
    transforms.append(ingest_transform(runtime.policy, runtime.keys))
    detector = None
    if detect:
        from sentinel.respond.db import ResponseDB
        from sentinel.respond.suppress import SuppressingDetector, Suppressions

        # suppression windows and exceptions decided by analysts apply before an alert is recorded
        suppressions = Suppressions(ResponseDB(runtime.settings.respond_db_path))
        detector = SuppressingDetector(runtime.engine(), suppressions)
    return Pipeline(store, transforms=transforms, detector=detector)


def _enrich_with(plan: AddressPlan) -> Transform:
    def enrich(event: dict) -> dict:
        if event.get("event", {}).get("kind") != "pipeline_error":
            plan.enrich_event(event)
        return event

    return enrich
