"""The audit trail: an append-only, hash-chained log of who did what.

Each record carries the SHA-256 of the previous record, so changing, deleting
or reordering any record breaks the chain from that point on, and
``sentinel audit verify`` names the first bad record. Cutting records off the
end leaves a valid shorter chain; to catch that, the head (last sequence number
and hash) is written beside the log on every append and checked too — and it
should be shipped off the machine (``sentinel audit head``) so it cannot be
rewritten together with the log.

Records are JSON lines, readable with any tool. Appends from several processes
(API, CLI, collectors) are serialised with an exclusive file lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sentinel.ecs import now_ts

GENESIS = "0" * 64


def _digest(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


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
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, actor: str, action: str, target: str = "", **details: Any) -> dict[str, Any]:
        """Append one record; returns it with its sequence number and hash."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._last(fd)
            record = {
                "seq": seq + 1,
                "at": now_ts(),
                "actor": actor,
                "action": action,
                "target": target,
                "details": details,
                "prev": prev,
            }
            record["hash"] = _digest(record)
            os.write(fd, orjson.dumps(record) + b"\n")
            os.fsync(fd)
            tmp = self.head_path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps({"seq": record["seq"], "hash": record["hash"]}))
            os.replace(tmp, self.head_path)
            return record
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
