"""Events made ready to write: transformed, encoded for the store, matched against the rules.

Everything an event needs before the store that depends on the event alone runs in one place,
:class:`MakeReady`: the transforms (enrichment, protection), the JSON the store writes, the
backend's own cells (:attr:`sentinel.store.Store.prepare`) and the single-event rules
(:meth:`sentinel.detect.engine.Engine.match`). With worker processes it runs there, so the
process that owns the store and the correlation state only writes, raises the alerts of the
events the store took as new, and correlates them, in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from sentinel.store import Encoded, encode_events

if TYPE_CHECKING:
    from sentinel.store import Prepare

Transform = Callable[[dict[str, Any]], dict[str, Any]]
Match = Callable[[list[dict[str, Any]]], list[tuple[int, ...]]]


class Ready(NamedTuple):
    """One event ready to write (plain tuples cross a process pipe at a fraction of a dict's cost)."""

    id: str
    doc: bytes  # the ECS document as JSON
    row: tuple[Any, ...] | None  # the store's cells (Store.prepare), if it has that step
    hits: tuple[int, ...]  # the rules it matched (Engine.match); none for a parse error
    time: str  # its @timestamp ("" if none): streams are merged on it
    error: bool  # a pipeline_error event: stored and counted, never matched

    def event(self) -> dict[str, Any]:
        return orjson.loads(self.doc)


class MakeReady:
    """Transforms, encoding and single-event matching of a batch: :class:`Ready` events, in order."""

    def __init__(self, stages: Sequence[Transform], match: Match | None, prepare: Prepare | None) -> None:
        self.stages = list(stages)
        self.match = match
        self.prepare = prepare

    def transform(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for stage in self.stages:
            events = [stage(e) for e in events]
        return events

    def __call__(self, events: list[dict[str, Any]]) -> list[Ready]:
        events = self.transform(events)
        encoded = encode_events(events, self.prepare)
        errors = [is_error(e) for e in events]
        hits: list[tuple[int, ...]] = [()] * len(events)
        if self.match is not None:
            wanted = [i for i, error in enumerate(errors) if not error]
            for i, matched in zip(wanted, self.match([events[i] for i in wanted]), strict=True):
                hits[i] = matched
        rows = encoded.rows if encoded.rows is not None else [None] * len(events)
        return [
            Ready(eid, doc, row, hit, _time(event), error)
            for eid, doc, row, hit, event, error in zip(
                encoded.ids, encoded.docs, rows, hits, events, errors, strict=True
            )
        ]


def is_error(event: dict[str, Any]) -> bool:
    """Whether ``event`` stands for a line that failed to parse (stored and counted, never detected on)."""
    return event.get("event", {}).get("kind") == "pipeline_error"


def _time(event: dict[str, Any]) -> str:
    ts = event.get("@timestamp")
    return ts if isinstance(ts, str) else ""


def encoded(ready: Sequence[Ready]) -> Encoded:
    """What the store writes of a batch of ready events."""
    rows = [r.row for r in ready]
    return Encoded([r.id for r in ready], [r.doc for r in ready], None if None in rows else rows)  # type: ignore[arg-type]
