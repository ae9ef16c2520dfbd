"""Builds the one ingest pipeline every entry point uses (CLI ingest, collectors, HTTP ingest, demo).

Order matters: enrichment first (so policies can see province/commune), then
personal-data protection (so raw values never reach the store), then store and
detection. Stages add their transform here, in one place.
"""

from __future__ import annotations

from sentinel.collect.addressplan import AddressPlan
from sentinel.collect.pipeline import Pipeline, Transform
from sentinel.config import Settings
from sentinel.store.base import Store


def build_pipeline(
    settings: Settings, store: Store, *, detect: bool = True, address_plan: AddressPlan | None = None
) -> Pipeline:
    """The configured pipeline: transforms, the store and (unless ``detect=False``) the Sigma engine.

    ``address_plan`` defaults to ``collectors/address-plan.yaml`` when it exists.
    """
    transforms: list[Transform] = []
    if address_plan is None:
        default = settings.collectors_dir / "address-plan.yaml"
        address_plan = AddressPlan.load(default) if default.exists() else None
    if address_plan is not None:  # province, commune, unit and direction from the address plan
        transforms.append(_enrich_with(address_plan))
    from sentinel.policy.purposes import ingest_transform

    transforms.append(ingest_transform(settings))  # personal data -> pseudonyms, before anything is stored
    detector = None
    if detect:
        from sentinel.detect.engine import Engine
        from sentinel.respond.db import ResponseDB
        from sentinel.respond.suppress import SuppressingDetector, Suppressions

        # suppression windows and exceptions decided by analysts apply before an alert is recorded
        suppressions = Suppressions(ResponseDB(settings.data_dir / "respond.db"))
        detector = SuppressingDetector(Engine.from_paths([settings.rules_dir]), suppressions)
    return Pipeline(store, transforms=transforms, detector=detector)


def _enrich_with(plan: AddressPlan) -> Transform:
    def enrich(event: dict) -> dict:
        if event.get("event", {}).get("kind") != "pipeline_error":
            plan.enrich_event(event)
        return event

    return enrich
