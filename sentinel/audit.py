"""The audit trail: one append-only, hash-chained log of every state-changing action.

Each record carries the SHA-256 of the previous record, so changing, deleting
or reordering any record breaks the chain from that point on, and
``sentinel audit verify`` names the first bad record. Cutting records off the
end leaves a valid shorter chain; to catch that, the head (last sequence number
and hash) is written beside the log on every append and checked too — and it
should be shipped off the machine (``sentinel audit head``) so it cannot be
rewritten together with the log.

A record says who acted (name, role, province/commune scope, client address),
what they did to which object, and digests: of the object's state before and
after, and of the history row the domain table wrote for the change. Domain
tables (alert history, cases, suppressions, playbook runs, DPO reviews) keep
their own readable history; each of their history rows carries the same digest,
so :func:`check_objects` can tell when a row or an object was rewritten behind
Sentinel's back (see ``docs/threat-model.md``).

Records are JSON lines, readable with any tool. Appends from several processes
(API, CLI, collectors) are serialised with an exclusive file lock; the file is
created 0600 in an owner-only folder whatever the umask.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from sentinel.ecs import now_ts
from sentinel.localdb import private_dir, write_private

GENESIS = "0" * 64
AUDIT_FILE = "audit.log"


def _digest(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON (sorted keys): the same content always gives the same digest."""
    return hashlib.sha256(
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    ).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who acts, as the audit trail records it: a name, and when known the role, scope and client address."""

    name: str
    role: str | None = None
    scope: str | None = None  # "province" or "province/commune"; None for national staff and tools
    client: str | None = None


_ACTING: ContextVar[Actor | None] = ContextVar("sentinel_actor", default=None)


def set_actor(actor: Actor) -> None:
    """Say who acts for the rest of this request or command (the API's authorisation and the CLI call it)."""
    _ACTING.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _ACTING.set(actor)
    try:
        yield actor
    finally:
        _ACTING.reset(token)


def current_actor() -> Actor | None:
    return _ACTING.get()


@dataclass
class Entry:
    """One action on one object, before it is chained.

    ``before`` and ``after`` are the object's audited state (only their digests are
    kept); ``row`` is the digest of the history row the domain table wrote for it;
    ``version`` the object's version after the change.
    """

    action: str
    object: str = ""
    version: int | None = None
    before: Any = None
    after: Any = None
    row: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerifyResult:
    ok: bool
    records: int
    first_bad: int | None = None  # 1-based line number of the first bad record
    reason: str | None = None


class AuditLog:
    """Append-only hash-chained audit records in ``path`` (JSON lines) with its head in ``path.head``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_suffix(self.path.suffix + ".head")
        private_dir(self.path.parent)

    @classmethod
    def beside(cls, db_path: str | Path) -> AuditLog:
        """The trail of the data folder holding ``db_path``: every database in one folder shares one chain."""
        return cls(Path(db_path).parent / AUDIT_FILE)

    def record(self, actor: str, action: str, target: str = "", **details: Any) -> dict[str, Any]:
        """Append one record without object state (logins, account changes); returns it."""
        return self.append(actor, [Entry(action, target, details=details)])[0]

    def append(self, actor: str, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        """Chain ``entries`` done by ``actor`` under one lock and one fsync; returns the records.

        Role, scope and client address come from :func:`current_actor` when it names the same actor.
        """
        who = current_actor()
        if who is None or who.name != actor:
            who = Actor(actor)
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
            seq, prev = self._last(fd)
            out, data = [], b""
            for entry in entries:
                seq += 1
                record: dict[str, Any] = {
                    "seq": seq,
                    "at": now_ts(),
                    "actor": who.name,
                    "role": who.role,
                    "scope": who.scope,
                    "client": who.client,
                    "action": entry.action,
                    "object": entry.object,
                }
                if entry.version is not None:
                    record["version"] = entry.version
                if entry.before is not None:
                    record["before"] = digest(entry.before)
                if entry.after is not None:
                    record["after"] = digest(entry.after)
                if entry.row is not None:
                    record["row"] = entry.row
                record["details"] = entry.details
                record["prev"] = prev
                record["hash"] = prev = _digest(record)
                out.append(record)
                data += orjson.dumps(record, default=str) + b"\n"
            os.write(fd, data)
            os.fsync(fd)
            write_private(self.head_path, orjson.dumps({"seq": seq, "hash": prev}))
            return out
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @staticmethod
    def _last(fd: int) -> tuple[int, str]:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        chunk = min(size, 1 << 16)
        while True:
            data = os.pread(fd, chunk, size - chunk)
            lines = data.rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or chunk == size:
                last = orjson.loads(lines[-1])
                return int(last["seq"]), str(last["hash"])
            chunk = min(size, chunk * 4)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            for line in f:
                yield orjson.loads(line)

    def head(self) -> dict[str, Any] | None:
        return orjson.loads(self.head_path.read_bytes()) if self.head_path.exists() else None

    def verify(self, expected_head: dict[str, Any] | None = None) -> VerifyResult:
        """Check the whole chain, and that it ends at the recorded (or the given) head."""
        prev, seq, n = GENESIS, 0, 0
        if self.path.exists():
            with self.path.open("rb") as f:
                for n, line in enumerate(f, 1):
                    try:
                        rec = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        return VerifyResult(False, n - 1, n, "not a JSON record")
                    if not isinstance(rec, dict) or rec.get("prev") != prev:
                        return VerifyResult(
                            False,
                            n - 1,
                            n,
                            "does not follow the record before it (a record was removed, inserted or reordered)",
                        )
                    if rec.get("seq") != seq + 1:
                        return VerifyResult(False, n - 1, n, f"sequence {rec.get('seq')} where {seq + 1} was expected")
                    if _digest(rec) != rec.get("hash"):
                        return VerifyResult(False, n - 1, n, "content does not match its hash (the record was changed)")
                    prev, seq = rec["hash"], rec["seq"]
        head = expected_head if expected_head is not None else self.head()
        if head is not None and (head.get("seq") != seq or head.get("hash") != prev):
            return VerifyResult(
                False,
                n,
                n + 1 if head.get("seq", 0) > seq else n,
                f"the log ends at record {seq} but its head says {head.get('seq')}: "
                "records were cut off the end or the head was changed",
            )
        return VerifyResult(True, n)


def record_object(record: Mapping[str, Any]) -> str:
    """The object a record is about (``target`` in records written before objects had state)."""
    return str(record.get("object", record.get("target", "")))


# -- checking domain tables against the chain ------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A history row as a domain table holds it: a label for messages, the digest it carries, its content's digest."""

    label: str
    stored: str | None
    computed: str


class Witness(Protocol):
    """How :func:`check_objects` reads one kind of object (``kind`` is the prefix of ``kind:id``)."""

    kind: str

    def rows(self, object_id: str) -> list[Row]:
        """The object's history rows written by people (not the detector), oldest first."""
        ...

    def state(self, object_id: str) -> Any:
        """The object's audited state as it is now (what ``Entry.after`` held), or None when it is gone."""
        ...


@dataclass(frozen=True)
class Finding:
    seq: int | None  # the audit record the finding is about, if any
    object: str
    reason: str

    def __str__(self) -> str:
        at = f"audit record {self.seq}: " if self.seq else ""
        return f"{at}{self.object}: {self.reason}"


@dataclass
class _Seen:
    rows: dict[str, int] = field(default_factory=dict)  # row digest -> record seq
    top: tuple[int, int, str] | None = None  # (version, seq, after digest) of the newest state


def check_objects(records: Iterator[dict[str, Any]], witnesses: Sequence[Witness]) -> list[Finding]:
    """Compare each audited object with what the chain recorded for it.

    Finds history rows changed, deleted or written without an audit record, and
    objects whose current state is not the state recorded for their newest version.
    """
    by_kind = {w.kind: w for w in witnesses}
    seen: dict[str, _Seen] = {}
    for rec in records:
        obj = record_object(rec)
        kind = obj.partition(":")[0]
        if kind not in by_kind or ("row" not in rec and "after" not in rec):
            continue
        s = seen.setdefault(obj, _Seen())
        if "row" in rec:
            s.rows[rec["row"]] = rec["seq"]
        if "after" in rec:
            key = (int(rec.get("version") or 0), int(rec["seq"]), rec["after"])
            if s.top is None or key[:2] >= s.top[:2]:
                s.top = key
    findings: list[Finding] = []
    for obj, s in seen.items():
        kind, _, object_id = obj.partition(":")
        witness = by_kind[kind]
        rows = witness.rows(object_id)
        computed = {r.computed for r in rows}
        for row_digest, seq in s.rows.items():
            if row_digest not in computed:
                findings.append(Finding(seq, obj, "the history row this record vouches for was changed or deleted"))
        digested = False
        for r in rows:
            if r.stored is None:
                if digested:
                    findings.append(Finding(None, obj, f"history row {r.label} carries no audit digest (inserted)"))
                continue
            digested = True
            if r.stored != r.computed:
                findings.append(Finding(s.rows.get(r.stored), obj, f"history row {r.label} was changed"))
            elif r.stored not in s.rows:
                findings.append(Finding(None, obj, f"history row {r.label} is not in the audit trail"))
        if s.top is not None:
            version, seq, after = s.top
            state = witness.state(object_id)
            if state is None:
                findings.append(Finding(seq, obj, "the object was deleted"))
            elif digest(state) != after:
                findings.append(
                    Finding(seq, obj, f"the object differs from its audited state at version {version} (rewritten)")
                )
    return findings
