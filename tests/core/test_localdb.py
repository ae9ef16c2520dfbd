"""The one way embedded databases are opened, migrated and written."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from sentinel.errors import Unavailable
from sentinel.localdb import connect, migrate, transaction
from sentinel.store.base import StoreError

MIGRATIONS = ["CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT);", "ALTER TABLE t ADD COLUMN n INTEGER;"]


def test_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        conn = connect(tmp_path / "d" / "x.db", "the test database")
        migrate(conn, MIGRATIONS, "x.db")
        conn.execute("INSERT INTO t VALUES ('a', 'b', 1)")  # makes the WAL and shared-memory files
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "d").iterdir()}
        conn.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
    assert modes.keys() >= {"x.db", "x.db-wal", "x.db-shm"}
    assert set(modes.values()) == {0o600}, modes


def test_migrations_run_once_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db", "x")
    assert migrate(conn, MIGRATIONS, "x") == 2
    assert migrate(conn, MIGRATIONS, "x") == 2  # nothing left to do, no error from re-running DDL
    assert [r[1] for r in conn.execute("PRAGMA table_info(t)")] == ["k", "v", "n"]
    with pytest.raises(StoreError, match="newer Sentinel"):
        migrate(conn, MIGRATIONS[:1], "x", StoreError)


def test_concurrent_openers_migrate_once(tmp_path: Path) -> None:
    """The version is read under the write lock: many openers of a new file never apply a migration twice."""
    errors: list[BaseException] = []

    def open_and_migrate() -> None:
        try:
            c = connect(tmp_path / "x.db", "x")
            migrate(c, MIGRATIONS, "x")
            c.close()
        except BaseException as exc:  # an ALTER applied twice would fail with a duplicate column
            errors.append(exc)

    threads = [threading.Thread(target=open_and_migrate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    conn = connect(tmp_path / "x.db", "x")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_failure_inside_a_transaction_rolls_it_all_back(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db", "x")
    migrate(conn, MIGRATIONS, "x")
    with pytest.raises(ValueError), transaction(conn):
        conn.execute("INSERT INTO t VALUES ('a', 'b', 1)")
        raise ValueError("half way")
    assert not conn.in_transaction  # the connection is usable, not stuck inside BEGIN
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES ('a', 'b', 1)")
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1


def test_sqlite_failures_become_the_callers_error_kind(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db", "x")
    migrate(conn, MIGRATIONS, "x")
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    conn.execute("PRAGMA busy_timeout=50")
    try:
        with (
            pytest.raises(StoreError, match="cannot write to the test file"),
            transaction(conn, None, "the test file", StoreError),
        ):
            pass
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(Unavailable, match="cannot write to x"), transaction(conn, None, "x"):
        conn.execute("INSERT INTO nowhere VALUES (1)")  # an OperationalError inside the body
    assert not conn.in_transaction
