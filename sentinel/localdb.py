"""The one way Sentinel opens an embedded SQLite database and upgrades its schema.

Every file under the data directory (the event store, ``respond.db``, ``classify.db``,
``accounts.db``, collector queues, the Elasticsearch dead-letter file) goes through
:func:`connect` and :func:`migrate`, so they share the same guarantees:

- the folder is created owner-only (0700) and the database file 0600 whatever the umask;
  SQLite gives its WAL and shared-memory files the database file's permissions;
- WAL journaling, a busy timeout, and autocommit mode so transactions are explicit;
- numbered migrations applied under ``BEGIN IMMEDIATE``, with the version read *after* the
  write lock is taken, so two processes opening a new file at once never both migrate;
- a file written by a newer Sentinel is refused with a message, not half-used.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sentinel.config import hint
from sentinel.errors import SentinelError, Unavailable

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, error: type[SentinelError] = Unavailable) -> Path:
    """Create ``path`` (and parents) and make it owner-only; an existing folder is tightened too."""
    try:
        missing, probe = [], path
        while not probe.exists() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        for folder in reversed(missing):  # each folder created here is owner-only, not only the last
            folder.mkdir(exist_ok=True)
            folder.chmod(DIR_MODE)
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(DIR_MODE)
    except OSError as exc:
        raise error(f"cannot create the data folder {path}: {exc.strerror}") from None
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; tighten it if it does."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, the file 0600 and its folder owner-only whatever the umask.

    For the small state files beside the databases: offsets, collector status, the audit head.
    """
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# How long a connection waits for another's lock before it reports the database busy.
BUSY_SECONDS = 30.0


def _write_ahead(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode, waiting for other connections doing the same.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked" at
    once, without its busy wait, to a connection holding a shared lock while another wants the
    exclusive one (it avoids a deadlock): processes opening a new database together hit it.
    """
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def connect(
    path: str | Path,
    what: str,
    *,
    synchronous: str = "NORMAL",
    pragmas: Sequence[str] = (),
    error: type[SentinelError] = Unavailable,
) -> sqlite3.Connection:
    """Open ``path`` with the project's settings; ``what`` names it in errors ("the response database")."""
    path = Path(path)
    private_dir(path.parent, error)
    try:
        private_file(path)
        for suffix in ("-wal", "-shm"):  # left by an older version or another umask
            side = path.with_name(path.name + suffix)
            with contextlib.suppress(FileNotFoundError):  # another connection may remove it meanwhile
                if stat.S_IMODE(side.stat().st_mode) != FILE_MODE:
                    side.chmod(FILE_MODE)
        conn = sqlite3.connect(path, timeout=BUSY_SECONDS, check_same_thread=False, isolation_level=None)
        _write_ahead(conn)
        for pragma in (f"synchronous={synchronous}", f"busy_timeout={int(BUSY_SECONDS * 1000)}", *pragmas):
            conn.execute(f"PRAGMA {pragma}")
    except (OSError, sqlite3.DatabaseError) as exc:
        raise error(f"cannot open {what} at {path}: {exc}") from None
    return conn


def statements(script: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would commit on its own)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf)
            buf = ""
    if buf.strip():
        out.append(buf)
    return out


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[str], what: str, error: type[SentinelError] = Unavailable
) -> int:
    """Bring the schema up to ``len(migrations)`` (``PRAGMA user_version``); return the version.

    Each entry upgrades by one version. All pending ones run in one ``BEGIN IMMEDIATE``
    transaction and the version is read again once the lock is held.
    """
    latest = len(migrations)
    if conn.execute("PRAGMA user_version").fetchone()[0] == latest:
        return latest
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > latest:
            raise error(
                f"{what} was written by a newer Sentinel (schema {version}, this one knows {latest}); "
                f"upgrade Sentinel or point {hint('data_dir')} elsewhere"
            )
        for number in range(version + 1, latest + 1):
            for statement in statements(migrations[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return latest


@contextmanager
def transaction(
    conn: sqlite3.Connection,
    lock: AbstractContextManager | None = None,
    what: str = "the database",
    error: type[SentinelError] = Unavailable,
) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE``): all of it commits, or any exception rolls all of it back.

    ``lock`` serialises this process's writers on a shared connection. SQLite's own failures
    (another process holding the write lock beyond the busy timeout, a full disk, a read-only
    file) are reported as ``error`` naming ``what``, so callers can retry later; any other
    exception passes through unchanged after the rollback.
    """
    with lock if lock is not None else nullcontext():
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise error(f"cannot write to {what}: {exc}") from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:  # SQLite has already rolled back after some errors (disk full)
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise error(f"cannot write to {what}: {exc}") from None
            raise


class ThreadConnections:
    """One connection per thread to ``path`` (opened by :func:`connect`); ``close_all`` ends them.

    SQLite connections must not be shared between threads mid-transaction; WAL lets each
    thread's reader run beside one writer. Callers serialise their own writes.
    """

    def __init__(self, path: str | Path, what: str, *pragmas: str, error: type[SentinelError] = Unavailable) -> None:
        self.path = Path(path)
        self.what = what
        self.pragmas = pragmas
        self.error = error
        private_dir(self.path.parent, error)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self.what, pragmas=self.pragmas, error=self.error)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close_all(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
