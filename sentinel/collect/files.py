"""Tailing log files and globs with persisted offsets, rotation handling and multi-line records.

Files are tracked by identity (device and inode) plus a fingerprint of their
first bytes, so a rename keeps its offset, inode reuse is noticed, and a file
truncated in place (copytruncate) is read again from the start. When the copy
made by copytruncate is itself matched by the glob, it is recognised by its
fingerprint and read from where the original stopped, so the lines written
between the last read and the truncation are not lost either.

Offsets are written (atomically, by rename) only after the runner has queued a
batch, so a restart resumes exactly where the queue ends: a line is re-read
at worst, never skipped. A partial last line (no newline yet) is left for the
next read; with ``once`` it is taken as the end of finite input.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sentinel.collect.multiline import Multiline, Record
from sentinel.collect.parsers import build_event, parse_line
from sentinel.collect.parsers.common import decode
from sentinel.collect.source import Batch, Source, SourceStatus
from sentinel.collect.syslog_parse import expand_repeats, parse_syslog
from sentinel.localdb import write_private

log = logging.getLogger(__name__)

FINGERPRINT_BYTES = 1024
READ_CHUNK = 1 << 20
# Bytes read from one file before moving to the next, so one busy file cannot starve the others.
READ_BUDGET = 16 << 20


def _fingerprint(f: Any, length: int) -> str:
    f.seek(0)
    return hashlib.blake2b(f.read(length), digest_size=12).hexdigest()


@dataclass
class _Saved:
    path: str
    offset: int
    fp: str
    fp_len: int


class OffsetFile:
    """Read positions of one file source, in a small JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[str, _Saved] = {}
        self.truncated: list[_Saved] = []
        if path.exists():
            try:
                data = orjson.loads(path.read_bytes())
                self.files = {k: _Saved(**v) for k, v in data.get("files", {}).items()}
                self.truncated = [_Saved(**v) for v in data.get("truncated", [])]
            except (orjson.JSONDecodeError, TypeError, AttributeError) as exc:
                raise ValueError(
                    f"{path}: the offsets file is damaged ({exc}); move it away to re-read the files from the start"
                ) from None

    def save(self) -> None:
        data = {
            "files": {k: v.__dict__ for k, v in self.files.items()},
            "truncated": [v.__dict__ for v in self.truncated[-32:]],
        }
        write_private(self.path, orjson.dumps(data))


@dataclass
class _Tail:
    """One open file being read."""

    key: str
    path: str
    f: Any
    offset: int  # next byte not yet turned into a record (what a restart resumes from)
    read_pos: int  # next byte to read from the file
    fp: str
    fp_len: int
    partial: bytes = b""
    multiline: Multiline | None = None
    gone_since: float | None = None  # path no longer leads here (renamed away or deleted)
    last_data: float = field(default_factory=time.monotonic)
    size: int = 0


def _plain(raw: bytes, source: str, position: int, dataset: str) -> dict[str, Any]:
    """A record kept as text (a stack trace, a line of an unknown format): searchable, not parsed."""
    text = raw.rstrip(b"\r\n")
    if not text.strip():
        return build_event(None, text, source=source, position=position, dataset=dataset, error="empty record")
    return build_event({"message": decode(text)}, text, source=source, position=position, dataset=dataset)


# Formats read by sentinel.collect.parsers.parse_line, plus syslog files and plain text.
FILE_FORMATS = ("auto", "access", "json", "syslog", "plain")


@dataclass
class FileOptions:
    fmt: str = "auto"
    dataset: str | None = None
    multiline: dict[str, Any] | None = None  # keyword arguments of Multiline
    batch_events: int = 2000
    poll_interval: float = 0.2
    scan_interval: float = 1.0
    # How long a renamed-away or deleted file is still read after its last new data.
    rotate_wait: float = 5.0
    # An incomplete multi-line record is ended after this long without new data.
    multiline_timeout: float = 2.0
    start_at: str = "beginning"  # or "end": files without a saved offset start at their end


class FileSource(Source):
    """Tail ``patterns`` (paths or globs); ``once`` stops at the end of the files."""

    replayable = True

    def __init__(self, name: str, patterns: list[str], state_path: Path, options: FileOptions | None = None) -> None:
        self.name = name
        self.patterns = patterns
        self.options = options or FileOptions()
        self.offsets = OffsetFile(state_path)
        self._tails: dict[str, _Tail] = {}
        self._status = SourceStatus(name=name)
        self._first_scan = True
        self.once = False

    # -- discovery ---------------------------------------------------------------
    def _matches(self) -> dict[str, str]:
        """key -> path for every file the patterns match now."""
        found: dict[str, str] = {}
        for pattern in self.patterns:
            paths = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]
            for p in sorted(paths):
                try:
                    st = os.stat(p)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    self._error(f"{p}: cannot read ({exc.strerror})")
                    continue
                if os.path.isfile(p):
                    found.setdefault(f"{st.st_dev}:{st.st_ino}", p)
        return found

    def _scan(self) -> None:
        found = self._matches()
        now = time.monotonic()
        for key, tail in self._tails.items():
            if key in found:
                tail.path = found[key]
                tail.gone_since = None
            elif tail.gone_since is None:
                tail.gone_since = now
        # Known files first: one replaced while we were down leaves its position for its copy to claim.
        for key in sorted(found, key=lambda k: k not in self.offsets.files):
            if key not in self._tails and not self._copy_of_live(found[key]):
                self._open(key, found[key])
        self._first_scan = False

    def _open(self, key: str, path: str) -> None:
        try:
            f = open(path, "rb")  # noqa: SIM115 - kept open while tailing
        except OSError as exc:
            self._error(f"{path}: cannot open ({exc.strerror}); check permissions")
            return
        size = os.fstat(f.fileno()).st_size
        fp_len = min(size, FINGERPRINT_BYTES)
        offset = 0
        saved = self.offsets.files.get(key)
        if saved is not None and saved.fp_len <= size and _fingerprint(f, saved.fp_len) == saved.fp:
            offset = saved.offset
        else:
            if saved is not None:  # truncated or replaced while we were down: a copy may carry on from here
                self.offsets.truncated.append(saved)
            copy = self._copy_of_truncated(f, size)
            if copy is not None:
                offset = copy.offset
                log.info("%s: %s is the copy of a truncated file, reading from byte %d", self.name, path, offset)
            elif self._first_scan and self.options.start_at == "end":
                offset = size
        if offset > size:  # the file shrank while we were down: it was truncated
            offset = 0
        tail = _Tail(key, path, f, offset, offset, _fingerprint(f, fp_len), fp_len, size=size)
        if self.options.multiline:
            tail.multiline = Multiline(**self.options.multiline)
        self._tails[key] = tail
        self.offsets.files[key] = _Saved(path, offset, tail.fp, tail.fp_len)

    def _copy_of_live(self, path: str) -> bool:
        """Whether ``path`` starts with the same bytes as a file still being read: copytruncate's copy,
        seen between the copy and the truncation. It waits: once the original is found truncated,
        the copy carries on from where the original stopped (:meth:`_copy_of_truncated`); read now,
        it would repeat every line already read from the original.
        """
        live = [t for t in self._tails.values() if t.fp_len > 0 and t.gone_since is None]
        if not live:
            return False
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                return any(t.fp_len <= size and _fingerprint(f, t.fp_len) == t.fp for t in live)
        except OSError:
            return False

    def _copy_of_truncated(self, f: Any, size: int) -> _Saved | None:
        for prior in self.offsets.truncated:
            if 0 < prior.fp_len <= size and prior.offset <= size and _fingerprint(f, prior.fp_len) == prior.fp:
                self.offsets.truncated.remove(prior)
                return prior
        return None

    # -- reading -----------------------------------------------------------------
    def batches(self, stop: threading.Event) -> Iterator[Batch]:
        next_scan = 0.0
        events: list[dict[str, Any]] = []
        finished: list[_Tail] = []
        while not stop.is_set():
            if time.monotonic() >= next_scan:
                self._scan()
                next_scan = time.monotonic() + self.options.scan_interval
            progressed = False
            for tail in list(self._tails.values()):
                for records in self._read(tail):
                    progressed = True
                    end = tail.offset
                    size = self.options.batch_events
                    for i in range(0, len(records), size):
                        events.extend(self._events(tail, records[i : i + size]))
                        if len(events) >= size:
                            # resume point: the first record of this file not in the batch
                            resume = records[i + size].position if i + size < len(records) else end
                            yield Batch(events, self._checkpoint({tail.key: resume}))
                            events = []
                            if stop.is_set():
                                return
                events.extend(self._events(tail, self._idle(tail)))
                if tail.gone_since is not None and self._finished(tail):
                    events.extend(self._events(tail, self._drain(tail)))
                    finished.append(tail)
            if events:
                yield Batch(events, self._checkpoint())
                events = []
            for tail in finished:
                self._close(tail)
            finished.clear()
            if not progressed:
                if self.once and all(t.read_pos >= t.size for t in self._tails.values()):
                    final = [e for t in self._tails.values() for e in self._events(t, self._drain(t))]
                    if final:
                        yield Batch(final, self._checkpoint())
                    return
                stop.wait(self.options.poll_interval)

    def _read(self, tail: _Tail) -> Iterator[list[Record]]:
        """Read what is new in ``tail``; yields records chunk by chunk."""
        try:
            size = os.fstat(tail.f.fileno()).st_size
        except OSError as exc:
            self._error(f"{tail.path}: {exc.strerror}")
            return
        if size < tail.read_pos:
            self._truncated(tail)
        tail.size = size
        budget = READ_BUDGET
        while budget > 0 and tail.read_pos < size:
            tail.f.seek(tail.read_pos)
            data = tail.f.read(min(READ_CHUNK, size - tail.read_pos))
            if not data:
                break
            budget -= len(data)
            tail.last_data = time.monotonic()
            base = tail.read_pos - len(tail.partial)
            tail.read_pos += len(data)
            buf = tail.partial + data if tail.partial else data
            cut = buf.rfind(b"\n")
            if cut < 0:
                tail.partial = buf
                continue
            tail.partial = buf[cut + 1 :]
            yield self._records(tail, base, buf[:cut].split(b"\n"))
            if tail.fp_len < FINGERPRINT_BYTES and size > tail.fp_len:
                tail.fp_len = min(size, FINGERPRINT_BYTES)
                tail.fp = _fingerprint(tail.f, tail.fp_len)

    def _records(self, tail: _Tail, base: int, lines: list[bytes]) -> list[Record]:
        """Records from complete lines starting at byte ``base``; advances ``tail.offset``."""
        pos = base
        if tail.multiline is None:
            out = []
            for line in lines:
                out.append(Record(pos, line))
                pos += len(line) + 1
            tail.offset = pos
            return out
        out = []
        for line in lines:
            out.extend(tail.multiline.feed(pos, line))
            pos += len(line) + 1
        pending = tail.multiline.pending_position
        tail.offset = pending if pending is not None else pos
        return out

    def _idle(self, tail: _Tail) -> list[Record]:
        """End a pending multi-line record once the file has been quiet long enough."""
        if tail.multiline is None or tail.multiline.pending_position is None:
            return []
        if time.monotonic() - tail.last_data < self.options.multiline_timeout:
            return []
        record = tail.multiline.flush()
        tail.offset = tail.read_pos - len(tail.partial)
        return [record] if record else []

    def _drain(self, tail: _Tail) -> list[Record]:
        """At the end of finite input: the pending record and a last line without a newline."""
        out: list[Record] = []
        end = tail.read_pos
        if tail.multiline is not None:
            if tail.partial:
                out.extend(tail.multiline.feed(end - len(tail.partial), tail.partial))
            record = tail.multiline.flush()
            if record:
                out.append(record)
        elif tail.partial:
            out.append(Record(end - len(tail.partial), tail.partial))
        tail.partial = b""
        tail.offset = end
        return out

    def _finished(self, tail: _Tail) -> bool:
        quiet = time.monotonic() - tail.last_data >= self.options.rotate_wait
        return tail.read_pos >= tail.size and (quiet or self.once)

    def _truncated(self, tail: _Tail) -> None:
        log.warning("%s: %s was truncated at byte %d; reading it from the start", self.name, tail.path, tail.read_pos)
        self.offsets.truncated.append(_Saved(tail.path, tail.offset, tail.fp, tail.fp_len))
        tail.offset = tail.read_pos = 0
        tail.partial = b""
        if tail.multiline is not None:
            tail.multiline.reset()
        tail.fp, tail.fp_len = _fingerprint(tail.f, 0), 0

    def _close(self, tail: _Tail) -> None:
        """Stop following a file that was rotated away or deleted and is read to its end."""
        tail.f.close()
        del self._tails[tail.key]
        self.offsets.files.pop(tail.key, None)
        log.info("%s: finished %s (rotated away or deleted)", self.name, tail.path)

    def _events(self, tail: _Tail, records: list[Record]) -> list[dict[str, Any]]:
        opts = self.options
        source = f"{self.name}:{tail.key}"
        out = []
        errors = 0
        for rec in records:
            if opts.fmt == "syslog":
                event = parse_syslog(
                    rec.raw, source=source, position=rec.position, dataset=opts.dataset or "syslog", from_file=True
                )
            elif opts.fmt == "plain":
                event = _plain(rec.raw, source, rec.position, opts.dataset or "plain")
            else:
                event = parse_line(rec.raw, source=source, position=rec.position, fmt=opts.fmt, dataset=opts.dataset)
            event["log"]["file"] = {"path": tail.path}
            if event["event"]["kind"] == "pipeline_error":
                errors += 1
            out.extend(expand_repeats(event, rec.raw, source=source, position=rec.position))
        self._status.read += len(out)
        self._status.parse_errors += errors
        return out

    def _checkpoint(self, resume: dict[str, int] | None = None) -> dict[str, tuple[str, int, str, int]]:
        """Where each file would resume from once this batch is queued (``resume`` overrides per file)."""
        resume = resume or {}
        return {k: (t.path, resume.get(k, t.offset), t.fp, t.fp_len) for k, t in self._tails.items()}

    def commit(self, checkpoint: dict[str, tuple[str, int, str, int]]) -> None:
        for key, (path, offset, fp, fp_len) in checkpoint.items():
            self.offsets.files[key] = _Saved(path, offset, fp, fp_len)
        self.offsets.save()

    # -- status ------------------------------------------------------------------
    def status(self) -> SourceStatus:
        # bytes not yet safely queued: measured from the committed offsets
        saved = self.offsets.files
        lag = 0
        for key, t in list(self._tails.items()):
            done = saved[key].offset if key in saved else 0
            lag += max(t.size - done, 0)
        self._status.lag = float(lag)
        return self._status

    def _error(self, message: str) -> None:
        log.warning("%s: %s", self.name, message)
        errors = self._status.errors
        if message not in errors:
            errors.append(message)
            del errors[:-20]

    def close(self) -> None:
        for tail in list(self._tails.values()):
            tail.f.close()
        self._tails.clear()
