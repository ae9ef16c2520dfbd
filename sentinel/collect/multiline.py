"""Joining physical lines into records: stack traces and JSON documents spread over lines.

A record keeps the byte offset of its first line, which is the position its
deterministic ``event.id`` is made from, and the file offset a restart resumes
from while the record is still incomplete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

MultilineMode = Literal["pattern", "json"]


@dataclass
class Record:
    position: int
    raw: bytes


@dataclass
class _Pending:
    position: int
    lines: list[bytes] = field(default_factory=list)
    size: int = 0


def _json_depth(line: bytes, depth: int, in_string: bool) -> tuple[int, bool]:
    """Bracket depth after ``line``, ignoring brackets inside JSON strings."""
    escaped = False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1
    return depth, in_string


class Multiline:
    """Assemble records from lines.

    ``pattern`` mode: a line matching ``start`` begins a record, or (with
    ``continuation``) a line matching it is appended to the previous one.
    ``json`` mode: a line starting with ``{`` or ``[`` opens a record that runs
    until its brackets balance. ``max_lines``/``max_bytes`` cap a record so one
    runaway trace cannot hold the reader forever.
    """

    def __init__(
        self,
        mode: MultilineMode,
        *,
        start: str | None = None,
        continuation: str | None = None,
        max_lines: int = 500,
        max_bytes: int = 1 << 20,
    ) -> None:
        if mode == "pattern" and (start is None) == (continuation is None):
            raise ValueError("multiline pattern mode needs exactly one of 'start' or 'continuation'")
        self.mode = mode
        self._start = re.compile(start.encode()) if start else None
        self._cont = re.compile(continuation.encode()) if continuation else None
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._pending: _Pending | None = None
        self._depth = 0
        self._in_string = False

    @property
    def pending_position(self) -> int | None:
        """Offset of the first line of the record still being assembled, if any."""
        return self._pending.position if self._pending else None

    def feed(self, position: int, line: bytes) -> list[Record]:
        """Add one line (without its newline); return the records it completed."""
        if self.mode == "json":
            return self._feed_json(position, line)
        out: list[Record] = []
        if self._pending is not None and self._continues(line):
            self._append(line)
            if len(self._pending.lines) >= self.max_lines or self._pending.size >= self.max_bytes:
                out.append(self._take())
            return out
        if self._pending is not None:
            out.append(self._take())
        self._pending = _Pending(position, [line], len(line))
        return out

    def _continues(self, line: bytes) -> bool:
        if self._start is not None:
            return self._start.search(line) is None
        assert self._cont is not None
        return self._cont.search(line) is not None

    def _feed_json(self, position: int, line: bytes) -> list[Record]:
        if self._pending is None:
            stripped = line.lstrip()
            if stripped[:1] not in (b"{", b"["):
                return [Record(position, line)]
            self._pending = _Pending(position, [line], len(line))
            self._depth, self._in_string = _json_depth(line, 0, False)
        else:
            self._append(line)
            self._depth, self._in_string = _json_depth(line, self._depth, self._in_string)
        p = self._pending
        if self._depth <= 0 or len(p.lines) >= self.max_lines or p.size >= self.max_bytes:
            return [self._take()]
        return []

    def _append(self, line: bytes) -> None:
        assert self._pending is not None
        self._pending.lines.append(line)
        self._pending.size += len(line) + 1

    def _take(self) -> Record:
        p = self._pending
        assert p is not None
        self._pending = None
        self._depth, self._in_string = 0, False
        return Record(p.position, b"\n".join(p.lines))

    def flush(self) -> Record | None:
        """The record being assembled, ended now (input idle or finished)."""
        return self._take() if self._pending is not None else None

    def reset(self) -> None:
        """Forget the partial record (the file was truncated under it)."""
        self._pending = None
        self._depth, self._in_string = 0, False
