"""Builds the one ingest pipeline every entry point uses (CLI ingest, collectors, HTTP ingest, demo).

Order matters: enrichment first (so policies can see province/commune), then
personal-data protection (so raw values never reach the store), then store and
detection. Stages add their transform here, in one place; what they are built from
comes from the :class:`~sentinel.runtime.Runtime`.

A collector does the first two stages itself (:func:`edge_stages`, in its worker processes) before its
disk queue, so neither the queue nor its dead letter ever holds a raw value; its
local store sink then skips them (``at_edge=True``). A central node receiving
events over HTTP runs them again: protection is idempotent, and a node does not
trust what an edge says it did.
"""

from __future__ import annotations

from sentinel.collect import AddressPlan
from sentinel.ingest.pipeline import Pipeline, Transform
from sentinel.ingest.ready import is_error
from sentinel.runtime import Runtime
from sentinel.store import Store


def build_pipeline(
    runtime: Runtime,
    store: Store,
    *,
    detect: bool = True,
    at_edge: bool = False,
    workers: int = 1,
    nice: int = 0,
    partitioned: bool = False,
) -> Pipeline:
    """The configured pipeline: transforms, the store and (unless ``detect=False``) the Sigma engine.

    ``at_edge=True`` when a collector's runner already enriched (with the definition's own plan)
    and protected the events with :func:`edge_stages`, so neither runs twice on one path.
    ``workers`` > 1 shares the transforms, the store's encoding and the single-event rules
    (``pipeline.make_ready``) between this process and ``workers - 1`` worker processes
    (``pipeline.workers``; close the pipeline when done), ``nice`` lower in priority than this one.
    ``partitioned=True`` (the API's ingest, the one pipeline of a central worker) shares correlation
    groups with the other workers of ``partition.peers`` (:mod:`sentinel.ingest.partition`; close the
    pipeline when done); every other pipeline correlates its own input, so a command run beside a
    worker never ships the worker's forwarding queues.
    """
    transforms = [] if at_edge else edge_stages(runtime, runtime.address_plan)
    detector = None
    forwarder = None
    engine = None
    if detect:
        from sentinel.respond import ResponseDB, SuppressingDetector, Suppressions

        # suppression windows and exceptions decided by analysts apply before an alert is recorded
        suppressions = Suppressions(ResponseDB(runtime.settings.respond_db_path))
        engine = runtime.engine()
        if partitioned and runtime.settings.partition.peers:  # one of several workers: groups shared out by key
            from sentinel.ingest.partition import Forwarder

            token = runtime.settings.ingest_token
            forwarder = Forwarder(runtime.settings, token.get_secret_value() if token else "")
            engine.correlations.router = forwarder
        detector = SuppressingDetector(engine, suppressions)
    pipeline = Pipeline(store, transforms=transforms, detector=detector, forwarder=forwarder)
    if workers > 1 and not at_edge:
        from sentinel.ingest.workers import TransformWorkers

        pipeline.workers = TransformWorkers(
            runtime.settings,
            workers,
            pipeline.make_ready,
            runtime.address_plan,
            nice=nice,
            digest=engine.digest if engine is not None else None,
        )
    return pipeline


def edge_stages(runtime: Runtime, plan: AddressPlan | None) -> list[Transform]:
    """Enrichment with ``plan`` (if any), then protection: the transforms of every ingest path."""
    from sentinel.policy import ingest_transform

    stages: list[Transform] = []
    if plan is not None:  # province, commune, unit and direction
        stages.append(_enrich_with(plan))
    # personal data -> pseudonyms, before anything is stored or queued (parse errors included)
    stages.append(ingest_transform(runtime.policy, runtime.keys))
    return stages


def _enrich_with(plan: AddressPlan) -> Transform:
    def enrich(event: dict) -> dict:
        if not is_error(event):
            plan.enrich_event(event)
        return event

    return enrich
