"""Local users, API tokens and console sessions, kept in ``<data_dir>/accounts.db`` (SQLite).

- Passwords are hashed with Argon2id (argon2-cffi), never stored or logged in clear.
- API tokens (for collectors, CI) are random 256-bit strings shown once; only
  their SHA-256 is stored, so a copy of the database does not give access.
- Sessions are random ids in an HttpOnly cookie, stored hashed, each with its
  own CSRF token; they expire.
- After ``lockout_threshold`` failed logins for one user name from one address, that name is
  locked for ``lockout_minutes`` *from that address only*: an attacker elsewhere cannot lock
  the owner out. Unknown names are counted and locked the same way, so the answers do not tell
  which names exist. A success clears the counter.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sentinel.errors import Denied, Invalid
from sentinel.identity import ROLES, Principal
from sentinel.localdb import connect, migrate

# Each entry upgrades the schema by one version (PRAGMA user_version); 1 is what unversioned files held.
MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, pw_hash TEXT NOT NULL, role TEXT NOT NULL,
    province TEXT, commune TEXT, disabled INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, locked_until REAL NOT NULL DEFAULT 0, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    province TEXT, commune TEXT, created REAL NOT NULL, expires REAL, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name), csrf TEXT NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL
);
""",
    # 2: failed logins per user name and client address (the users' own counters are no longer used)
    """
CREATE TABLE login_failures (
    name TEXT NOT NULL, address TEXT NOT NULL, failed INTEGER NOT NULL, locked_until REAL NOT NULL,
    PRIMARY KEY (name, address)
);
""",
]
MIN_PASSWORD = 12
MAX_NAME = 64  # user names are cut here before anything is looked up or logged


class AccountError(Invalid):
    """A request about accounts that cannot be done; the message says why."""


class LoginFailed(Denied):
    pass


class LockedOut(Denied):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many failed logins: the account is locked for {int(seconds // 60) + 1} more minutes")
        self.seconds = seconds


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


class Accounts:
    def __init__(
        self, path: str | Path, *, lockout_threshold: int = 5, lockout_minutes: int = 15, session_hours: float = 12
    ) -> None:
        self.path = Path(path)
        self.lockout_threshold = lockout_threshold
        self.lockout_seconds = lockout_minutes * 60
        self.session_seconds = session_hours * 3600
        self._hasher = PasswordHasher()
        self._lock = threading.Lock()
        self._db = connect(self.path, "the accounts database")
        migrate(self._db, MIGRATIONS, str(self.path))
        # a dummy hash to spend the same time on unknown users as on wrong passwords
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def close(self) -> None:
        self._db.close()

    def is_empty(self) -> bool:
        users = self._db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
        tokens = self._db.execute("SELECT COUNT(*) FROM tokens WHERE revoked = 0").fetchone()[0]
        return users + tokens == 0

    # -- users ------------------------------------------------------------------
    def add_user(
        self, name: str, password: str, role: str, province: str | None = None, commune: str | None = None
    ) -> None:
        _check_role(role)
        if not name or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
            raise AccountError("a user name uses letters, digits, '.', '_' and '-' only")
        if len(name) > MAX_NAME:
            raise AccountError(f"a user name has at most {MAX_NAME} characters")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users(name, pw_hash, role, province, commune, created) VALUES (?,?,?,?,?,?)",
                    (name, self._hasher.hash(password), role, province, commune, time.time()),
                )
            except sqlite3.IntegrityError:
                raise AccountError(f"user {name!r} exists already") from None

    def list_users(self) -> list[dict]:
        rows = self._db.execute(
            "SELECT name, role, province, commune, disabled,"
            " (SELECT MAX(locked_until) FROM login_failures f WHERE f.name = users.name) FROM users ORDER BY name"
        )
        return [
            {
                "name": r[0],
                "role": r[1],
                "province": r[2],
                "commune": r[3],
                "disabled": bool(r[4]),
                "locked": (r[5] or 0) > time.time(),  # from some address
            }
            for r in rows
        ]

    def disable_user(self, name: str) -> None:
        with self._lock:
            if not self._db.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,)).rowcount:
                raise AccountError(f"no user {name!r}")
            self._db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def login(self, name: str, password: str, address: str = "unknown", now: float | None = None) -> Principal:
        """Check a password; count failures per user name and address, and lock that pair after too many."""
        now = time.time() if now is None else now
        name = name[:MAX_NAME]
        with self._lock:
            failure = self._db.execute(
                "SELECT failed, locked_until FROM login_failures WHERE name = ? AND address = ?", (name, address)
            ).fetchone()
            failed, locked_until = failure or (0, 0.0)
            if locked_until > now:
                self._verify(self._dummy, password)  # the same time whether or not the name exists
                raise LockedOut(locked_until - now)
            row = self._db.execute(
                "SELECT pw_hash, role, province, commune, disabled FROM users WHERE name = ?", (name,)
            ).fetchone()
            ok = row is not None and self._verify(row[0], password) and not row[4]
            if row is None:
                self._verify(self._dummy, password)
            if not ok:
                failed += 1
                lock = now + self.lockout_seconds if failed >= self.lockout_threshold else 0.0
                self._db.execute(
                    "INSERT INTO login_failures(name, address, failed, locked_until) VALUES (?,?,?,?)"
                    " ON CONFLICT(name, address) DO UPDATE SET failed = excluded.failed,"
                    " locked_until = excluded.locked_until",
                    (name, address, 0 if lock else failed, lock),
                )
                if lock:
                    raise LockedOut(self.lockout_seconds)
                raise LoginFailed("wrong user name or password")
            self._db.execute("DELETE FROM login_failures WHERE name = ? AND address = ?", (name, address))
            pw_hash, role, province, commune, _ = row
            if self._hasher.check_needs_rehash(pw_hash):
                self._db.execute("UPDATE users SET pw_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
        return Principal(name=name, role=role, province=province, commune=commune)

    def _verify(self, pw_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(pw_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- API tokens ---------------------------------------------------------------
    def create_token(
        self, name: str, role: str, province: str | None = None, commune: str | None = None, days: float | None = None
    ) -> str:
        """Create a token and return it; it is not stored and cannot be shown again."""
        _check_role(role)
        token = "snt_" + secrets.token_urlsafe(32)
        expires = time.time() + days * 86400 if days else None
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO tokens(id, name, token_hash, role, province, commune, created, expires)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (name, name, _sha(token), role, province, commune, time.time(), expires),
                )
            except sqlite3.IntegrityError:
                raise AccountError(f"a token named {name!r} exists already; revoke it first") from None
        return token

    def revoke_token(self, name: str) -> None:
        with self._lock:
            if not self._db.execute("UPDATE tokens SET revoked = 1 WHERE id = ?", (name,)).rowcount:
                raise AccountError(f"no token named {name!r}")

    def list_tokens(self) -> list[dict]:
        rows = self._db.execute("SELECT id, role, province, commune, expires, revoked FROM tokens ORDER BY id")
        return [
            {"name": r[0], "role": r[1], "province": r[2], "commune": r[3], "expires": r[4], "revoked": bool(r[5])}
            for r in rows
        ]

    def principal_for_token(self, token: str) -> Principal | None:
        row = self._db.execute(
            "SELECT id, role, province, commune, expires FROM tokens WHERE token_hash = ? AND revoked = 0",
            (_sha(token),),
        ).fetchone()
        if row is None or (row[4] is not None and row[4] < time.time()):
            return None
        return Principal(name=f"token:{row[0]}", role=row[1], province=row[2], commune=row[3])

    # -- sessions -------------------------------------------------------------------
    def create_session(self, principal: Principal) -> tuple[str, str]:
        """A new session for a logged-in user: (cookie value, CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            self._db.execute(
                "INSERT INTO sessions(id_hash, user, csrf, created, expires) VALUES (?,?,?,?,?)",
                (_sha(sid), principal.name, csrf, now, now + self.session_seconds),
            )
        return sid, csrf

    def session(self, sid: str) -> Session | None:
        row = self._db.execute(
            "SELECT u.name, u.role, u.province, u.commune, s.csrf, s.expires, u.disabled FROM sessions s"
            " JOIN users u ON u.name = s.user WHERE s.id_hash = ?",
            (_sha(sid),),
        ).fetchone()
        if row is None or row[5] < time.time() or row[6]:
            return None
        return Session(Principal(name=row[0], role=row[1], province=row[2], commune=row[3]), row[4])

    def end_session(self, sid: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (_sha(sid),))
