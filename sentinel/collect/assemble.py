"""Builds the one ingest pipeline every entry point uses (CLI ingest, collectors, HTTP ingest, demo).

Order matters: enrichment first (so policies can see province/commune), then
personal-data protection (so raw values never reach the store), then store and
detection. Stages add their transform here, in one place.
"""

from __future__ import annotations

from sentinel.collect.pipeline import Pipeline, Transform
from sentinel.config import Settings
from sentinel.store.base import Store


def build_pipeline(settings: Settings, store: Store, *, detect: bool = True) -> Pipeline:
    """The configured pipeline: transforms, the store and (unless ``detect=False``) the Sigma engine."""
    transforms: list[Transform] = []
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
