"""What the ingest pipeline needs from detection: the :class:`Detector` protocol.

The streaming :class:`~sentinel.detect.engine.Engine` implements it; response wraps it
(:class:`~sentinel.respond.suppress.SuppressingDetector`) so analysts' suppressions apply before
an alert is recorded. Both depend on this module, neither on the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sentinel.models import Alert


class Detector(Protocol):
    """Turns stored events into alerts, in order."""

    def process(self, events: list[dict[str, Any]]) -> list[Alert]:
        """Alerts raised by these events (in order)."""
        ...

    def match(self, events: list[dict[str, Any]]) -> list[tuple[int, ...]]:
        """Which rules each event matches, without side effects (may run in another process)."""
        ...

    def raise_matched(self, matched: Sequence[tuple[dict[str, Any], Sequence[int]]]) -> list[Alert]:
        """Alerts for events and the rules :meth:`match` found they match (in order)."""
        ...

    def flush(self) -> list[Alert]:
        """Alerts still pending in open windows, at the end of finite input."""
        ...

    def receive(self, matches: Sequence[Mapping[str, Any]]) -> list[Alert]:
        """Alerts from correlation matches another worker forwarded to this one (it owns their groups)."""
        ...
