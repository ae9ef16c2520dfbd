"""Per-thread SQLite connections in WAL mode, shared by every embedded database of Sentinel.

SQLite connections must not be shared between threads mid-transaction; WAL lets
each thread's reader run beside one writer. Callers serialise their own writes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sentinel.store.base import StoreError


class ThreadConnections:
    """One connection per thread to ``path`` (created with its folder on first use); ``close_all`` ends them."""

    def __init__(self, path: str | Path, what: str, *pragmas: str) -> None:
        self.path = Path(path)
        self.what = what
        self.pragmas = ("journal_mode=WAL", "synchronous=NORMAL", *pragmas)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {self.path.parent}: {exc.strerror}") from None
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
                for pragma in self.pragmas:
                    conn.execute(f"PRAGMA {pragma}")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot open {self.what} at {self.path}: {exc}") from None
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
