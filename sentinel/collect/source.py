"""What every collector source implements (files, syslog, pcap, NetFlow, ...).

A source yields :class:`Batch` es of ECS events. The runner writes each batch to
the durable queue first and only then calls :meth:`Source.commit` with the
batch's checkpoint, so a source's persisted position (a file offset, say) never
runs ahead of what is safely queued: a crash replays, it never skips.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Batch:
    events: list[dict[str, Any]]
    # Opaque to the runner; handed back to Source.commit once the batch is queued.
    checkpoint: Any = None


@dataclass
class SourceStatus:
    name: str
    read: int = 0
    parse_errors: int = 0
    lag: float | None = None  # seconds or bytes behind, as the source defines it
    # Events a live source could not keep (e.g. its receive buffer overflowed); the runner raises an alert.
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


class Source(abc.ABC):
    """A producer of ECS events. Finite sources end their iterator; live ones run until ``stop`` is set."""

    name: str
    # True when the input can be read again after a restart (files, pcap): the runner then
    # waits for room in a full queue indefinitely; live inputs (syslog, NetFlow) cannot wait forever.
    replayable: bool = False

    @abc.abstractmethod
    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        """Yield batches until the input ends (finite sources) or ``stop`` is set."""

    def commit(self, checkpoint: Any) -> None:  # noqa: B027 - sources without positions need nothing
        """Persist the position reached by a batch that is now safely queued."""

    @abc.abstractmethod
    def status(self) -> SourceStatus:
        """Counters for the API and logs."""
