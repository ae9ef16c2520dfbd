"""The ingest pipeline every input goes through: transform -> store -> detect -> alerts.

Detection sees only the events the store accepted as new, so a replayed file or
a retried batch neither duplicates events nor raises the same alert twice.
Transforms (address-plan enrichment, pseudonymisation of personal data) run
before anything is written, so a raw value they remove is never stored.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from sentinel import ecs
from sentinel.detect import Detector
from sentinel.ingest.ready import MakeReady, Ready, Transform, encoded, is_error
from sentinel.models import Alert
from sentinel.store import Store

if TYPE_CHECKING:
    from sentinel.ingest.partition import Forwarder
    from sentinel.ingest.workers import Pending, TransformWorkers


@dataclass
class IngestCounts:
    read: int = 0
    stored: int = 0
    parse_errors: int = 0
    duplicates: int = 0
    alerts: int = 0

    def add(self, other: IngestCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Pipeline:
    def __init__(
        self,
        store: Store,
        transforms: Iterable[Transform] = (),
        detector: Detector | None = None,
        workers: TransformWorkers | None = None,
        forwarder: Forwarder | None = None,
    ) -> None:
        self.store = store
        self.detector = detector
        # what runs per event before the store (in the workers, when there are some)
        self.make_ready = MakeReady(list(transforms), detector.match if detector is not None else None, store.prepare)
        self.workers = workers
        self.forwarder = forwarder  # correlation groups other workers own (partitioned deployments)
        self.totals = IngestCounts()

    @property
    def transforms(self) -> list[Transform]:
        return self.make_ready.stages

    def process(self, events: list[dict[str, Any]]) -> IngestCounts:
        """Store one batch and run detection on what was new. Returns this batch's counts."""
        events, counts = self.admit(events)
        return self.commit(self.make_ready(events), counts)

    def commit_ready(self, ready: list[Ready]) -> IngestCounts:
        """:meth:`process` for a batch made ready in the worker processes that parsed it.

        No look-up of the ids first: it would save no transform here, and the store reports what it held.
        """
        return self.commit(ready, _counts(ready))

    # batches a stream processes in this process before handing the rest to its workers
    INLINE_BATCHES = 2

    def process_stream(self, batches: Iterable[list[dict[str, Any]]]) -> Iterator[IngestCounts]:
        """:meth:`process` each batch in turn, yielding its counts; with workers, the transforms of the
        next batches run in the worker processes while this one is stored and detected, in input order
        (this process makes the parts they have not taken when it would otherwise wait)."""
        batches = iter(batches)
        if self.workers is None:
            for batch in batches:
                yield self.process(batch)
            return
        # starting the worker processes costs seconds: short inputs are done here before they would be up
        for batch in itertools.islice(batches, self.INLINE_BATCHES):
            yield self.process(batch)
        pending: deque[tuple[list[Pending], IngestCounts]] = deque()
        for batch in batches:
            events, counts = self.admit(batch)
            pending.append((self.workers.submit_parts(events), counts))  # in parts, to whoever is free first
            if len(pending) >= self.workers.depth:
                yield self.commit_parts(*pending.popleft())
        while pending:
            yield self.commit_parts(*pending.popleft())

    def close(self) -> None:
        """Stop the worker processes and the forwarding to other workers, if any."""
        if self.workers is not None:
            self.workers.close()
        if self.forwarder is not None:
            self.forwarder.close()

    def admit(self, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], IngestCounts]:
        """The events of a batch the store does not hold yet, and the batch's counts so far."""
        counts = IngestCounts(read=len(events), parse_errors=sum(1 for e in events if is_error(e)))
        known = self.store.known_ids([eid for e in events if isinstance(eid := ecs.get_field(e, "event.id"), str)])
        if known:  # a replay: these were stored before, so they skip the transforms (and detection) entirely
            events = [e for e in events if ecs.get_field(e, "event.id") not in known]
            counts.duplicates = counts.read - len(events)
        return events, counts

    def commit_parts(self, parts: list[Pending], counts: IngestCounts) -> IngestCounts:
        """:meth:`commit` a batch whose parts the workers are making ready (waits for them)."""
        return self.commit([event for part in parts for event in part.get()], counts)

    def commit(self, ready: list[Ready], counts: IngestCounts) -> IngestCounts:
        """Store ``ready`` events (admitted with ``counts``), raise the alerts of what was new, record them."""
        result = self.store.append_encoded(encoded(ready))
        counts.stored = len(result.stored)
        counts.duplicates += result.duplicates
        if self.detector is not None and result.stored:
            matched = [(ready[i].event(), ready[i].hits) for i in result.stored if ready[i].hits]
            counts.alerts = self._record(self.detector.raise_matched(matched))
        if self.forwarder is not None:  # queued for their owners before the sender hears the batch is in
            self.forwarder.flush()
        self.totals.add(counts)
        return counts

    def correlate(self, matches: list[dict[str, Any]]) -> IngestCounts:
        """Correlate matches another worker forwarded (groups this one owns) and record the alerts."""
        counts = IngestCounts(read=len(matches))
        if self.detector is not None:
            counts.alerts = self._record(self.detector.receive(matches))
        self.totals.add(counts)
        return counts

    def finish(self) -> IngestCounts:
        """Flush detection windows at the end of finite input."""
        counts = IngestCounts()
        if self.detector is not None:
            counts.alerts = self._record(self.detector.flush())
        if self.forwarder is not None:
            self.forwarder.flush()
        self.totals.add(counts)
        return counts

    def _record(self, alerts: list[Alert]) -> int:
        for alert in alerts:
            self.store.record_alert(alert)
        return len(alerts)


def _counts(ready: list[Ready]) -> IngestCounts:
    """A batch's counts before the store has seen it: what was read, and how much of it failed to parse."""
    return IngestCounts(read=len(ready), parse_errors=sum(1 for r in ready if r.error))
