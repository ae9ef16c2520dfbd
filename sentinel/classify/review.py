"""Scan results and DPO review decisions, kept in their own SQLite file (``classify.db``).

A DPO accepts a field's classification or overrides its category and
entities, always with a reason. Decisions are versioned per field (the
version is the ETag; a stale ``If-Match`` is refused so two reviewers cannot
overwrite each other), every change is written to an audit table with the
actor, and the latest decision takes precedence over what later scans detect
(the detection is still shown, so drift is visible).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field, model_validator

from sentinel import ecs
from sentinel.audit import AuditLog, Entry, Row, digest
from sentinel.classify.scan import ScanResult
from sentinel.classify.taxonomy import Taxonomy
from sentinel.errors import Invalid, NotFound, VersionConflict
from sentinel.localdb import connect, migrate, transaction

# Each entry upgrades the schema by one version (PRAGMA user_version).
MIGRATIONS: list[str] = [
    """
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset TEXT NOT NULL,
        source TEXT NOT NULL,
        scanned_at TEXT NOT NULL,
        doc BLOB NOT NULL
    );
    CREATE INDEX scans_dataset ON scans(dataset, id);
    CREATE TABLE reviews (
        dataset TEXT NOT NULL,
        field TEXT NOT NULL,
        version INTEGER NOT NULL,
        decision TEXT NOT NULL,
        category TEXT NOT NULL,
        entities BLOB NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        scan_id INTEGER,
        PRIMARY KEY (dataset, field, version)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        dataset TEXT NOT NULL,
        field TEXT,
        before BLOB,
        after BLOB
    );
    """,
    # 2: each audit row carries the digest recorded in the data folder's audit chain
    "ALTER TABLE audit ADD COLUMN digest TEXT;",
]


class ReviewError(Invalid):
    """A review request that cannot be applied (unknown field, bad entity, ...)."""


class ReviewIn(BaseModel):
    """A DPO decision on one field."""

    decision: Literal["accept", "override"]
    reason: str = Field(min_length=3, max_length=2000, description="why (kept in the audit trail)")
    category: Literal["sensitive", "basic", "none"] | None = None
    entities: list[str] | None = None

    @model_validator(mode="after")
    def _override_needs_values(self) -> ReviewIn:
        if self.decision == "override" and self.category is None and self.entities is None:
            raise ValueError("an override gives a category, entities or both")
        if self.decision == "accept" and (self.category is not None or self.entities is not None):
            raise ValueError("accept takes the detected classification as it is; use override to change it")
        return self


class ClassificationStore:
    """SQLite persistence for scans, reviews and their audit trail."""

    def __init__(self, path: Path, taxonomy: Taxonomy, audit: AuditLog | None = None) -> None:
        self.path = Path(path)
        self.audit = audit or AuditLog.beside(self.path)
        self.taxonomy = taxonomy
        self._lock = threading.Lock()
        self._conn = connect(self.path, "the classification database")
        with self._lock:
            migrate(self._conn, MIGRATIONS, str(self.path))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        self._conn.close()

    # -- scans ----------------------------------------------------------------
    def save_scan(self, result: ScanResult) -> int:
        doc = orjson.dumps(result.to_dict())
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO scans(dataset, source, scanned_at, doc) VALUES (?, ?, ?, ?)",
                (result.dataset, result.source, result.scanned_at, doc),
            )
            return int(cur.lastrowid)

    def _latest_scan(self, dataset: str) -> tuple[int, dict[str, Any]] | None:
        row = self._conn.execute(
            "SELECT id, doc FROM scans WHERE dataset = ? ORDER BY id DESC LIMIT 1", (dataset,)
        ).fetchone()
        return (row[0], orjson.loads(row[1])) if row else None

    def _latest_reviews(self, dataset: str) -> dict[str, dict[str, Any]]:
        rows = self._conn.execute(
            """SELECT field, version, decision, category, entities, reason, actor, at FROM reviews r
               WHERE dataset = ? AND version = (SELECT MAX(version) FROM reviews WHERE dataset = r.dataset
                                                AND field = r.field)""",
            (dataset,),
        ).fetchall()
        return {r[0]: _review_row(r) for r in rows}

    def list_datasets(self, contains: str | None = None) -> list[dict[str, Any]]:
        """Latest scan summary per dataset (optionally those whose name contains ``contains``)."""
        rows = self._conn.execute("SELECT dataset, MAX(id) FROM scans GROUP BY dataset ORDER BY dataset").fetchall()
        out = []
        for dataset, scan_id in rows:
            if contains and contains not in dataset:
                continue
            view = self.dataset_view(dataset)
            fields = view["fields"]
            out.append(
                {
                    "dataset": dataset,
                    "source": view["source"],
                    "scanned_at": view["scanned_at"],
                    "scan_id": scan_id,
                    "fields": len(fields),
                    "sensitive_fields": sum(1 for f in fields if f["category"] == "sensitive"),
                    "basic_fields": sum(1 for f in fields if f["category"] == "basic"),
                    "reviewed_fields": sum(1 for f in fields if f["review"]),
                    "max_sensitivity": max((f["sensitivity"] for f in fields), default=0),
                }
            )
        return out

    def dataset_view(self, dataset: str) -> dict[str, Any]:
        """The latest scan with review decisions applied (they take precedence)."""
        latest = self._latest_scan(dataset)
        if latest is None:
            raise NotFound(f"no classification for dataset {dataset!r}; scan it first")
        scan_id, doc = latest
        reviews = self._latest_reviews(dataset)
        doc["scan_id"] = scan_id
        seen = set()
        for fld in doc["fields"]:
            seen.add(fld["field"])
            self._apply(fld, reviews.get(fld["field"]))
        for name, review in reviews.items():  # reviewed fields the latest scan no longer saw
            if name not in seen:
                fld = {"field": name, "entities": [], "category": "none", "sensitivity": 0, "example": None}
                fld["missing_from_scan"] = True
                self._apply(fld, review)
                doc["fields"].append(fld)
        return doc

    def _apply(self, fld: dict[str, Any], review: dict[str, Any] | None) -> None:
        fld["version"] = review["version"] if review else 0
        fld["review"] = review
        if review is None:
            return
        fld["detected"] = {"category": fld["category"], "entities": [e["type"] for e in fld["entities"]]}
        entity_names = review["entities"]
        by_type = {e["type"]: e for e in fld["entities"]}
        fld["entities"] = [
            by_type.get(t, {"type": t, "score": None, "ratio": None, "hinted": False}) for t in entity_names
        ]
        fld["category"] = review["category"]
        _, level = self.taxonomy.combine(entity_names)
        fld["sensitivity"] = level
        fld["sensitivity_name"] = self.taxonomy.level_name(level)

    def field_view(self, dataset: str, field: str) -> dict[str, Any]:
        for fld in self.dataset_view(dataset)["fields"]:
            if fld["field"] == field:
                return fld
        raise NotFound(f"dataset {dataset!r} has no field {field!r}")

    # -- reviews --------------------------------------------------------------
    def review(self, dataset: str, field: str, review: ReviewIn, expected_version: int, actor: str) -> dict[str, Any]:
        """Record a decision if the field is still at ``expected_version``; returns the updated field."""
        unknown = set(review.entities or []) - set(self.taxonomy.entities)
        if unknown:
            known = ", ".join(sorted(self.taxonomy.entities))
            raise ReviewError(f"unknown entities {', '.join(sorted(unknown))}; known: {known}")
        with self._tx() as conn:
            current = self.field_view(dataset, field)
            if current["version"] != expected_version:
                raise VersionConflict(f"{dataset}/{field}", expected_version, current["version"])
            detected_entities = [e["type"] for e in current["entities"]]
            if review.decision == "accept":
                category, entities = current["category"], detected_entities
            else:
                entities = review.entities if review.entities is not None else detected_entities
                if review.category == "none":  # not personal data: only non-personal entities stay
                    personal = [e for e in entities if self.taxonomy.category(e) != "none"]
                    if review.entities is not None and personal:
                        raise ReviewError(f"category none contradicts personal entities {', '.join(personal)}")
                    entities = [e for e in entities if e not in personal]
                category = review.category or self.taxonomy.combine(entities)[0]
            version = expected_version + 1
            at = ecs.now_ts()
            before = {"category": current["category"], "entities": detected_entities, "version": expected_version}
            after = {"category": category, "entities": entities, "version": version, "reason": review.reason}
            try:
                with transaction(conn, None, str(self.path)):
                    conn.execute(
                        "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            dataset,
                            field,
                            version,
                            review.decision,
                            category,
                            orjson.dumps(entities),
                            review.reason,
                            actor,
                            at,
                            self._latest_scan(dataset)[0],
                        ),
                    )
                    action = f"review.{review.decision}"
                    row_digest = _row_digest(at, actor, action, dataset, field, before, after)
                    conn.execute(
                        "INSERT INTO audit(at, actor, action, dataset, field, before, after, digest)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (at, actor, action, dataset, field, orjson.dumps(before), orjson.dumps(after), row_digest),
                    )
                    state = self.review_state(dataset, field)
                    self.audit.append(  # inside the transaction: a review that cannot be audited is not made
                        actor,
                        [Entry(action, review_object(dataset, field), version=version, after=state, row=row_digest)],
                    )
            except sqlite3.IntegrityError:  # someone recorded this version first
                raise VersionConflict(f"{dataset}/{field}", expected_version, expected_version + 1) from None
        return self.field_view(dataset, field)

    def accept_all(self, dataset: str, reason: str, actor: str) -> int:
        """Accept the detected classification of every field of ``dataset`` nobody has reviewed yet.

        Each field is one versioned, audited decision, as if accepted alone; a field
        someone reviews meanwhile keeps that review. Returns how many were accepted.
        """
        accepted = 0
        decision = ReviewIn(decision="accept", reason=reason)
        for fld in self.dataset_view(dataset)["fields"]:
            if fld["review"] is not None or fld.get("missing_from_scan"):
                continue
            try:
                self.review(dataset, fld["field"], decision, fld["version"], actor)
            except VersionConflict:
                continue
            accepted += 1
        return accepted

    def review_state(self, dataset: str, field: str) -> dict[str, Any] | None:
        """The field's latest decision as stored (what the audit chain digests), or None before any."""
        row = self._conn.execute(
            """SELECT field, version, decision, category, entities, reason, actor, at, scan_id FROM reviews
               WHERE dataset = ? AND field = ? ORDER BY version DESC LIMIT 1""",
            (dataset, field),
        ).fetchone()
        return {**_review_row(row), "scan_id": row[8]} if row else None

    def audited_rows(self, dataset: str, field: str) -> list[Row]:
        """The field's audit rows with their stored and recomputed digests (for ``sentinel audit verify``)."""
        rows = self._conn.execute(
            "SELECT id, at, actor, action, before, after, digest FROM audit"
            " WHERE dataset = ? AND field = ? ORDER BY id",
            (dataset, field),
        )
        return [
            Row(
                f"{i} ({action} by {actor})",
                stored,
                _row_digest(
                    at,
                    actor,
                    action,
                    dataset,
                    field,
                    orjson.loads(before) if before else None,
                    orjson.loads(after) if after else None,
                ),
            )
            for i, at, actor, action, before, after, stored in rows
        ]

    def field_history(self, dataset: str, field: str) -> list[dict[str, Any]]:
        """Every decision on a field, oldest first."""
        rows = self._conn.execute(
            """SELECT field, version, decision, category, entities, reason, actor, at FROM reviews
               WHERE dataset = ? AND field = ? ORDER BY version""",
            (dataset, field),
        ).fetchall()
        return [_review_row(r) for r in rows]

    def audit_log(self, dataset: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT at, actor, action, dataset, field, before, after FROM audit"
        params: list[Any] = []
        if dataset:
            sql += " WHERE dataset = ?"
            params.append(dataset)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._conn.execute(sql, [*params, limit]).fetchall()
        return [
            {
                "at": r[0],
                "actor": r[1],
                "action": r[2],
                "dataset": r[3],
                "field": r[4],
                "before": orjson.loads(r[5]) if r[5] else None,
                "after": orjson.loads(r[6]) if r[6] else None,
            }
            for r in rows
        ]


def _review_row(r: tuple) -> dict[str, Any]:
    return {
        "version": r[1],
        "decision": r[2],
        "category": r[3],
        "entities": orjson.loads(r[4]),
        "reason": r[5],
        "by": r[6],
        "at": r[7],
    }


def review_object(dataset: str, field: str) -> str:
    """How the audit chain names a field's review: ``review:<dataset>#<field>``."""
    return f"review:{dataset}#{field}"


def _row_digest(at: str, actor: str, action: str, dataset: str, field: str, before: Any, after: Any) -> str:
    return digest(
        {
            "at": at,
            "actor": actor,
            "action": action,
            "dataset": dataset,
            "field": field,
            "before": before,
            "after": after,
        }
    )


class ReviewWitness:
    """How ``sentinel audit verify`` reads DPO reviews and overrides."""

    kind = "review"

    def __init__(self, store: ClassificationStore) -> None:
        self.store = store

    def rows(self, object_id: str) -> list[Row]:
        dataset, _, field = object_id.rpartition("#")
        return self.store.audited_rows(dataset, field)

    def state(self, object_id: str) -> dict[str, Any] | None:
        dataset, _, field = object_id.rpartition("#")
        return self.store.review_state(dataset, field)


def open_classification_store(path: Path, taxonomy: Taxonomy) -> ClassificationStore:
    """The review store at ``path`` (``Settings.classify_db_path``)."""
    return ClassificationStore(Path(path), taxonomy)
