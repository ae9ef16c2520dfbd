"""Local accounts without the web layer: names, passwords, lockout at its boundary, tokens and sessions.

The HTTP side (cookies, CSRF, rate limits) is in ``test_auth.py``; here each guarantee of
:class:`~sentinel.api.accounts.Accounts` is checked at its boundary and in both directions, against
the rows the database holds.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from sentinel.api.accounts import MAX_NAME, MIN_PASSWORD, AccountError, Accounts, LockedOut, LoginFailed
from sentinel.config import AuthSettings
from sentinel.identity import Principal

PASSWORD = "mat-khau-rat-dai-2026"
ADDRESS = "198.51.100.9"


@pytest.fixture
def acc(tmp_path: Path) -> Iterator[Accounts]:
    accounts = Accounts(tmp_path / "accounts.db", lockout_threshold=3, lockout_minutes=2)
    yield accounts
    accounts.close()


def rows(acc: Accounts, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(acc.path) as db:
        return db.execute(sql, args).fetchall()


@pytest.mark.parametrize(
    ("name", "ok"),
    [("lan.nguyen_2-x", True), ("a" * MAX_NAME, True), ("a" * (MAX_NAME + 1), False), ("", False),
     ("lan nguyen", False), ("lan@hn", False), ("../etc", False)],
)  # fmt: skip
def test_user_names(acc: Accounts, name: str, ok: bool) -> None:
    if ok:
        acc.add_user(name, PASSWORD, "dpo")
        assert [u["name"] for u in acc.list_users()] == [name]
    else:
        with pytest.raises(AccountError):
            acc.add_user(name, PASSWORD, "dpo")
        assert acc.list_users() == []


def test_password_length_at_the_boundary_and_never_stored_in_clear(acc: Accounts) -> None:
    with pytest.raises(AccountError, match=f"at least {MIN_PASSWORD} characters"):
        acc.add_user("short", "x" * (MIN_PASSWORD - 1), "dpo")
    acc.add_user("exact", "x" * MIN_PASSWORD, "dpo")
    assert acc.login("exact", "x" * MIN_PASSWORD, ADDRESS).name == "exact"
    ((stored,),) = rows(acc, "SELECT pw_hash FROM users WHERE name = 'exact'")
    assert stored.startswith("$argon2id$") and "x" * MIN_PASSWORD not in stored


def test_the_user_listing(acc: Accounts) -> None:
    acc.add_user("binh", PASSWORD, "soc_analyst", province="Hà Nội", commune="Phường Ba Đình")
    acc.add_user("an", PASSWORD, "admin")
    acc.disable_user("an")
    assert acc.list_users() == [
        {"name": "an", "role": "admin", "province": None, "commune": None, "disabled": True, "locked": False},
        {"name": "binh", "role": "soc_analyst", "province": "Hà Nội", "commune": "Phường Ba Đình",
         "disabled": False, "locked": False},
    ]  # fmt: skip
    with pytest.raises(AccountError, match="no user 'nobody'"):
        acc.disable_user("nobody")


def test_login_returns_the_users_principal(acc: Accounts) -> None:
    acc.add_user("binh", PASSWORD, "soc_analyst", province="Hà Nội", commune="Phường Ba Đình")
    assert acc.login("binh", PASSWORD, ADDRESS) == Principal("binh", "soc_analyst", "Hà Nội", "Phường Ba Đình")
    with pytest.raises(LoginFailed, match="wrong user name or password"):
        acc.login("binh", PASSWORD + "x", ADDRESS)


def test_lockout_at_the_threshold_and_for_exactly_its_duration(acc: Accounts) -> None:
    acc.add_user("binh", PASSWORD, "dpo")
    now = 1_900_000_000.0
    for attempt in (1, 2):  # threshold 3: two failures are only failures
        with pytest.raises(LoginFailed):
            acc.login("binh", "wrong-password-1", ADDRESS, now=now)
        assert rows(acc, "SELECT failed, locked_until FROM login_failures") == [(attempt, 0.0)]
    with pytest.raises(LockedOut) as third:
        acc.login("binh", "wrong-password-1", ADDRESS, now=now)
    assert third.value.seconds == 120 and "locked for 3 more minutes" in str(third.value)
    # the counter restarts once locked: the lock alone keeps the pair out until it ends
    assert rows(acc, "SELECT failed, locked_until FROM login_failures") == [(0, now + 120)]
    with pytest.raises(LockedOut) as still:  # the right password does not help while locked
        acc.login("binh", PASSWORD, ADDRESS, now=now + 119.5)
    assert still.value.seconds == pytest.approx(0.5) and "locked for 1 more minutes" in str(still.value)
    assert acc.login("binh", PASSWORD, ADDRESS, now=now + 120).name == "binh"  # the lock ends at its end
    assert rows(acc, "SELECT * FROM login_failures") == []  # a success clears the pair


def test_a_success_clears_the_count_of_its_address_only(acc: Accounts) -> None:
    acc.add_user("binh", PASSWORD, "dpo")
    for address in (ADDRESS, "10.0.0.5"):
        for _ in range(2):
            with pytest.raises(LoginFailed):
                acc.login("binh", "wrong-password-1", address)
    acc.login("binh", PASSWORD, ADDRESS)
    assert rows(acc, "SELECT address, failed FROM login_failures") == [("10.0.0.5", 2)]
    for _ in range(2):  # counting starts again from zero at the cleared address
        with pytest.raises(LoginFailed):
            acc.login("binh", "wrong-password-1", ADDRESS)
    with pytest.raises(LockedOut):
        acc.login("binh", "wrong-password-1", "10.0.0.5")
    assert [u["locked"] for u in acc.list_users()] == [True]


def test_a_disabled_user_cannot_log_in_and_loses_its_sessions(acc: Accounts) -> None:
    acc.add_user("binh", PASSWORD, "dpo")
    sid, _ = acc.create_session(acc.login("binh", PASSWORD, ADDRESS))
    acc.disable_user("binh")
    assert acc.session(sid) is None and rows(acc, "SELECT COUNT(*) FROM sessions") == [(0,)]
    with pytest.raises(LoginFailed):
        acc.login("binh", PASSWORD, ADDRESS)
    assert rows(acc, "SELECT failed FROM login_failures") == [(1,)]  # counted like a wrong password


def test_long_names_are_cut_before_they_are_looked_up(acc: Accounts) -> None:
    name = "a" * MAX_NAME
    acc.add_user(name, PASSWORD, "dpo")
    assert acc.login(name + "tail", PASSWORD, ADDRESS).name == name
    with pytest.raises(LoginFailed):
        acc.login(name + "b" * 1000, "wrong-password-1", ADDRESS)
    assert rows(acc, "SELECT name FROM login_failures") == [(name,)]


def test_an_outdated_password_hash_is_replaced_at_login(acc: Accounts) -> None:
    acc.add_user("binh", PASSWORD, "dpo")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with sqlite3.connect(acc.path) as db:
        db.execute("UPDATE users SET pw_hash = ? WHERE name = 'binh'", (weak,))
    assert acc.login("binh", PASSWORD, ADDRESS).name == "binh"
    ((stored,),) = rows(acc, "SELECT pw_hash FROM users")
    assert stored != weak and not PasswordHasher().check_needs_rehash(stored)
    assert PasswordHasher().verify(stored, PASSWORD)


def test_tokens_are_stored_as_digests_and_give_their_principal(acc: Accounts) -> None:
    token = acc.create_token("edge-hn-01", "collector", province="Hà Nội", commune="Phường Ba Đình", days=1)
    assert token.startswith("snt_") and len(token) == 4 + 43
    ((stored, expires),) = rows(acc, "SELECT token_hash, expires FROM tokens")
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert expires == pytest.approx(time.time() + 86400, abs=5)
    assert acc.principal_for_token(token) == Principal("token:edge-hn-01", "collector", "Hà Nội", "Phường Ba Đình")
    assert acc.principal_for_token(token + "x") is None
    assert acc.list_tokens() == [
        {"name": "edge-hn-01", "role": "collector", "province": "Hà Nội", "commune": "Phường Ba Đình",
         "expires": expires, "revoked": False}
    ]  # fmt: skip
    with pytest.raises(AccountError, match="exists already"):
        acc.create_token("edge-hn-01", "collector")
    acc.revoke_token("edge-hn-01")
    assert acc.principal_for_token(token) is None and acc.list_tokens()[0]["revoked"] is True
    with pytest.raises(AccountError, match="no token named 'other'"):
        acc.revoke_token("other")
    with pytest.raises(AccountError, match="unknown role"):
        acc.create_token("x", "god")


def test_token_expiry(acc: Accounts) -> None:
    forever = acc.create_token("ci", "ci")  # no days: never expires
    expired = acc.create_token("old", "collector", days=-0.001)
    assert rows(acc, "SELECT id, expires IS NULL FROM tokens ORDER BY id") == [("ci", 1), ("old", 0)]
    assert acc.principal_for_token(forever) == Principal("token:ci", "ci")
    assert acc.principal_for_token(expired) is None


def test_is_empty_counts_users_and_live_tokens(acc: Accounts) -> None:
    assert acc.is_empty()
    acc.create_token("ci", "ci")
    assert not acc.is_empty()
    acc.revoke_token("ci")
    assert acc.is_empty()
    acc.add_user("binh", PASSWORD, "dpo")
    assert not acc.is_empty()


def test_sessions(tmp_path: Path) -> None:
    acc = Accounts(tmp_path / "accounts.db", session_hours=1)
    try:
        acc.add_user("binh", PASSWORD, "soc_lead", province="Huế")
        principal = acc.login("binh", PASSWORD, ADDRESS)
        sid, csrf = acc.create_session(principal)
        assert sid != csrf and len(sid) == len(csrf) == 43
        ((id_hash, user, stored_csrf, created, expires),) = rows(acc, "SELECT * FROM sessions")
        assert id_hash == hashlib.sha256(sid.encode()).hexdigest() and user == "binh" and stored_csrf == csrf
        assert expires - created == 3600
        session = acc.session(sid)
        assert session is not None and session.principal == principal and session.csrf == csrf
        assert acc.session(sid + "x") is None
        # an expired session is refused, and the next login removes it
        with sqlite3.connect(acc.path) as db:
            db.execute("UPDATE sessions SET expires = ?", (time.time() - 1,))
        assert acc.session(sid) is None
        other, _ = acc.create_session(principal)
        assert [r[0] for r in rows(acc, "SELECT id_hash FROM sessions")] == [hashlib.sha256(other.encode()).hexdigest()]
        acc.end_session(other)
        assert acc.session(other) is None and rows(acc, "SELECT COUNT(*) FROM sessions") == [(0,)]
    finally:
        acc.close()


def test_the_defaults_are_the_settings_defaults(tmp_path: Path) -> None:
    """The CLI opens the accounts without the API's settings: both must lock and expire alike."""
    acc = Accounts(tmp_path / "accounts.db")
    try:
        auth = AuthSettings()
        assert (
            (acc.lockout_threshold, acc.lockout_seconds, acc.session_seconds)
            == (
                auth.lockout_threshold,
                auth.lockout_minutes * 60,
                auth.session_hours * 3600,
            )
            == (5, 900, 43200)
        )
    finally:
        acc.close()
