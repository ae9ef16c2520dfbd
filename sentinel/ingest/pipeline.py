"""The ingest pipeline every input goes through: transform -> store -> detect -> alerts.

Detection sees only the events the store accepted as new, so a replayed file or
a retried batch neither duplicates events nor raises the same alert twice.
Transforms (address-plan enrichment, pseudonymisation of personal data) run
before anything is written, so a raw value they remove is never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from sentinel import ecs
from sentinel.detect.detector import Detector
from sentinel.models import Alert
from sentinel.store.base import Store

Transform = Callable[[dict[str, Any]], dict[str, Any]]


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
    def __init__(self, store: Store, transforms: Iterable[Transform] = (), detector: Detector | None = None) -> None:
        self.store = store
        self.transforms = list(transforms)
        self.detector = detector
        self.totals = IngestCounts()

    def process(self, events: list[dict[str, Any]]) -> IngestCounts:
        """Store one batch and run detection on what was new. Returns this batch's counts."""
        counts = IngestCounts(read=len(events))
        counts.parse_errors = sum(1 for e in events if e.get("event", {}).get("kind") == "pipeline_error")
        known = self.store.known_ids([eid for e in events if isinstance(eid := ecs.get_field(e, "event.id"), str)])
        if known:  # a replay: these were stored before, so they skip the transforms (and detection) entirely
            events = [e for e in events if ecs.get_field(e, "event.id") not in known]
            counts.duplicates = counts.read - len(events)
        for transform in self.transforms:
            events = [transform(e) for e in events]
        result = self.store.append_events(events)
        counts.stored = result.stored_count
        counts.duplicates += result.duplicates
        if self.detector is not None and result.stored:
            wanted = [e for e in result.stored if e.get("event", {}).get("kind") != "pipeline_error"]
            counts.alerts = self._record(self.detector.process(wanted))
        self.totals.add(counts)
        return counts

    def finish(self) -> IngestCounts:
        """Flush detection windows at the end of finite input."""
        counts = IngestCounts()
        if self.detector is not None:
            counts.alerts = self._record(self.detector.flush())
        self.totals.add(counts)
        return counts

    def _record(self, alerts: list[Alert]) -> int:
        for alert in alerts:
            self.store.record_alert(alert)
        return len(alerts)
