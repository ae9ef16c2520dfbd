"""Authentication: local accounts, sessions with CSRF, lockout, rate limits, API tokens and OIDC JWTs."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from sentinel.api.accounts import Accounts, LockedOut, LoginFailed
from sentinel.api.app import create_app
from sentinel.api.auth import SESSION_COOKIE, LocalOperator, SentinelAuthenticator
from sentinel.config import load_settings
from sentinel.errors import Invalid
from sentinel.store.sqlite import SQLiteStore

PASSWORD = "mat-khau-rat-dai-2026"


def settings_for(tmp_path, **env):
    return load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path), **env})


@pytest.fixture
def app_and_accounts(tmp_path):
    settings = settings_for(tmp_path)
    accounts = Accounts(settings.accounts_path)
    accounts.add_user("an", PASSWORD, "soc_analyst", province="Hà Nội")
    app = create_app(settings, SQLiteStore(tmp_path / "s.db"))
    return app, accounts


def test_anonymous_access_only_in_demo_mode_and_only_on_loopback(tmp_path):
    # no account yet, on loopback: still closed unless demo mode is asked for
    closed = create_app(settings_for(tmp_path), SQLiteStore(tmp_path / "s.db"))
    assert isinstance(closed.state.authenticator, SentinelAuthenticator)
    assert TestClient(closed).get("/api/alerts").status_code == 401
    demo = create_app(settings_for(tmp_path, SENTINEL_AUTH_MODE="demo"), SQLiteStore(tmp_path / "s.db"))
    assert isinstance(demo.state.authenticator, LocalOperator)
    assert TestClient(demo).get("/api/alerts").status_code == 200
    with pytest.raises(Invalid, match="loopback only"):
        create_app(settings_for(tmp_path, SENTINEL_AUTH_MODE="demo", SENTINEL_API_HOST="0.0.0.0"))


def test_login_session_and_csrf(app_and_accounts):
    app, _ = app_and_accounts
    assert isinstance(app.state.authenticator, SentinelAuthenticator)
    c = TestClient(app)
    assert c.get("/api/events").status_code == 401
    r = c.post("/auth/login", json={"username": "an", "password": PASSWORD})
    assert r.status_code == 200
    csrf = r.json()["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    who = c.get("/auth/whoami").json()
    assert who["name"] == "an" and who["role"] == "soc_analyst" and who["province"] == "Hà Nội"
    # a state-changing request by cookie needs the CSRF token
    assert c.post("/auth/logout").status_code == 403
    assert c.post("/auth/logout", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    out = c.post("/auth/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert c.get("/auth/whoami").status_code == 401


def test_form_login_redirects_only_to_local_paths(app_and_accounts):
    app, _ = app_and_accounts
    c = TestClient(app)
    r = c.post(
        "/auth/login",
        data={"username": "an", "password": PASSWORD, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    bad = c.post("/auth/login", data={"username": "an", "password": "nope", "next": "/console/"})
    assert bad.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in bad.text
    english = c.post("/auth/login", data={"username": "an", "password": "nope"}, headers={"Accept-Language": "en"})
    assert english.status_code == 401 and "Wrong user name or password." in english.text and 'lang="en"' in english.text
    assert "Mật khẩu" in c.get("/auth/login").text and "Password" not in c.get("/auth/login").text
    switched = c.get("/auth/login", params={"next": "/console/cases", "lang": "en"})
    assert "Password" in switched.text and switched.cookies.get("sentinel_lang") == "en"
    assert 'href="/auth/login?next=%2Fconsole%2Fcases&amp;lang=vi"' in switched.text  # the switch keeps where to go
    page = c.get("/auth/login", params={"next": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in page.text


def test_lockout_per_name_and_address_and_alike_for_unknown_names(tmp_path):
    acc = Accounts(tmp_path / "a.db", lockout_threshold=3, lockout_minutes=1)
    acc.add_user("binh", PASSWORD, "dpo")
    for name in ("binh", "nobody"):  # an existing and an unknown name behave alike
        for _ in range(2):
            with pytest.raises(LoginFailed):
                acc.login(name, "wrong-password-1", "198.51.100.9")
        with pytest.raises(LockedOut):
            acc.login(name, "wrong-password-1", "198.51.100.9")
        with pytest.raises(LockedOut):  # even the right password, while locked
            acc.login(name, PASSWORD, "198.51.100.9")
    # the attacker's address is locked, not the account: its owner logs in from elsewhere
    assert acc.login("binh", PASSWORD, "10.0.0.5").role == "dpo"
    assert acc.list_users()[0]["locked"]  # locked from some address, shown to admins
    assert acc.login("binh", PASSWORD, "198.51.100.9", now=time.time() + 61).role == "dpo"
    with pytest.raises(ValueError, match="at most 64"):
        acc.add_user("a" * 65, PASSWORD, "dpo")


def test_weak_passwords_and_unknown_roles_are_refused(tmp_path):
    acc = Accounts(tmp_path / "a.db")
    with pytest.raises(ValueError, match="12 characters"):
        acc.add_user("x", "short", "dpo")
    with pytest.raises(ValueError, match="unknown role"):
        acc.add_user("x", PASSWORD, "god")
    acc.add_user("x", PASSWORD, "dpo")
    with pytest.raises(ValueError, match="exists"):
        acc.add_user("x", PASSWORD, "dpo")


def test_login_rate_limit_per_address_and_refusals_written_once_a_minute(tmp_path):
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)})
    settings = settings.model_copy(update={"auth": settings.auth.model_copy(update={"login_attempts_per_minute": 3})})
    Accounts(settings.accounts_path).add_user("an", PASSWORD, "soc_analyst")
    c = TestClient(create_app(settings, SQLiteStore(tmp_path / "s.db")))
    codes = [c.post("/auth/login", json={"username": "an", "password": "bad-password-x"}).status_code for _ in range(6)]
    assert codes == [401, 401, 401, 429, 429, 429]
    refused = [r for r in c.app.state.audit if r["action"].startswith("login")]
    assert len(refused) == 1 and refused[0]["action"] == "login.refused" and refused[0]["object"] == "testclient"


def test_long_user_names_are_cut_before_they_are_counted_or_written(tmp_path):
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)})
    c = TestClient(create_app(settings, SQLiteStore(tmp_path / "s.db")))
    r = c.post("/auth/login", json={"username": "x" * 100_000, "password": "bad-password-x"})
    assert r.status_code == 401
    (rec,) = [r for r in c.app.state.audit if r["action"] == "login.refused"]
    assert rec["actor"] == "x" * 64


def test_forwarded_for_is_believed_only_from_a_configured_proxy(tmp_path):
    def failures(proxies: list[str]) -> list[tuple[str, str]]:
        data = tmp_path / str(len(proxies))
        settings = load_settings(env={"SENTINEL_DATA_DIR": str(data)})
        settings = settings.model_copy(update={"api": settings.api.model_copy(update={"trusted_proxies": proxies})})
        app = create_app(settings, SQLiteStore(data / "s.db"))
        c = TestClient(app)
        c.post("/auth/login", json={"username": "an", "password": "bad-password-x"},
               headers={"X-Forwarded-For": "203.0.113.50, 198.51.100.1"})  # fmt: skip
        return app.state.accounts._db.execute("SELECT name, address FROM login_failures").fetchall()

    assert failures([]) == [("an", "testclient")]  # the header is ignored from anyone
    # from a trusted proxy: the right-most hop that is not itself a trusted proxy
    assert failures(["testclient", "198.51.100.0/24"]) == [("an", "203.0.113.50")]


def test_thousands_of_field_filters_get_a_400_with_the_limit(tmp_path):
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)})
    c = TestClient(create_app(settings, SQLiteStore(tmp_path / "s.db"), authenticator=LocalOperator()))
    q = " ".join(f"user.name:u{i}" for i in range(3000))
    r = c.get("/api/events", params={"q": q})
    assert r.status_code == 400 and "at most 256" in r.json()["detail"]
    assert c.get("/api/events", params={"q": " OR ".join(f"user.name:u{i}" for i in range(256))}).status_code == 200


def test_api_tokens(app_and_accounts):
    app, accounts = app_and_accounts
    token = accounts.create_token("edge-hn-01", "collector", province="Hà Nội", days=1)
    c = TestClient(app)
    who = c.get("/auth/whoami", headers={"Authorization": f"Bearer {token}"}).json()
    assert who["name"] == "token:edge-hn-01" and who["role"] == "collector"
    # bearer requests are not cookie requests: no CSRF needed, and no cookie is trusted
    assert c.get("/auth/whoami", headers={"Authorization": "Bearer snt_forged"}).status_code == 401
    accounts.revoke_token("edge-hn-01")
    assert c.get("/auth/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    login = c.post("/auth/login", json={"username": "an", "password": PASSWORD})
    session = login.cookies.get(SESSION_COOKIE)
    assert login.status_code == 200 and session
    # only hashes are stored: in the accounts file and in its write-ahead log, read while the database is open
    files = {p.name: p.read_bytes() for p in accounts.path.parent.iterdir() if p.name.startswith(accounts.path.name)}
    assert accounts.path.name + "-wal" in files
    for name, blob in files.items():
        assert b"snt_" not in blob and token.encode() not in blob and session.encode() not in blob, name


@pytest.fixture
def jwks_server():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def _token(key, **claims) -> str:
    """A signed token of the test identity provider; a claim given as None is left out."""
    base = {
        "iss": "https://sso.gov.example",
        "aud": "sentinel",
        "sub": "u1",
        "preferred_username": "chi",
        "exp": int(time.time()) + 300,
        "roles": ["SOC-Analysts"],
        "tinh": "Thành phố Đà Nẵng",
    }
    return jwt.encode({k: v for k, v in {**base, **claims}.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": "k1"})  # fmt: skip


def test_oidc_bearer_jwts(tmp_path, jwks_server):
    key, url = jwks_server
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)})
    oidc = {
        "issuer": "https://sso.gov.example",
        "audience": "sentinel",
        "jwks_url": url,
        "role_map": {"SOC-Analysts": "soc_analyst"},
        "province_claim": "tinh",
    }
    settings = settings.model_copy(update={"auth": settings.auth.model_validate({"oidc": oidc})})
    c = TestClient(create_app(settings, SQLiteStore(tmp_path / "s.db")))

    def token(**claims):
        return _token(key, **claims)

    def who(t):
        return c.get("/auth/whoami", headers={"Authorization": f"Bearer {t}"})

    ok = who(token()).json()
    assert ok["name"] == "chi" and ok["role"] == "soc_analyst" and ok["province"] == "Thành phố Đà Nẵng"
    assert who(token(aud="other")).status_code == 401
    assert who(token(iss="https://evil.example")).status_code == 401
    assert who(token(exp=int(time.time()) - 3600)).status_code == 401
    assert who(token(roles=["Everyone"])).status_code == 401  # no mapped role: deny
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {
            "iss": "https://sso.gov.example",
            "aud": "sentinel",
            "sub": "x",
            "exp": int(time.time()) + 60,
            "roles": ["SOC-Analysts"],
        },
        other_key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    assert who(forged).status_code == 401


def test_oversized_bodies_are_refused_before_reading(tmp_path):
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)})
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={"max_body_bytes": 2048})})
    c = TestClient(create_app(settings, SQLiteStore(tmp_path / "s.db")))
    r = c.post("/auth/login", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks():
        for _ in range(10):
            yield b"y" * 1000

    streamed = c.post("/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert c.get("/health").status_code == 200


def test_oidc_roles_only_through_the_map_and_scope_from_the_gazetteer(tmp_path, jwks_server):
    """A group named like a role is not that role; no or a misspelt province claim gives no access."""
    key, url = jwks_server
    base_oidc = {
        "issuer": "https://sso.gov.example",
        "audience": "sentinel",
        "jwks_url": url,
        "role_map": {"SOC-Analysts": "soc_analyst"},
        "province_claim": "tinh",
    }

    def client(**extra):
        settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path / str(len(extra)))})
        auth = settings.auth.model_validate({"oidc": {**base_oidc, **extra}})
        return TestClient(create_app(settings.model_copy(update={"auth": auth}), SQLiteStore(tmp_path / "s.db")))

    def token(**claims):
        return _token(key, **claims)

    c = client()
    who = lambda t: c.get("/auth/whoami", headers={"Authorization": f"Bearer {t}"})  # noqa: E731
    assert who(token(roles=["admin"])).status_code == 401  # not in role_map: no fallback to the claim's value
    assert who(token(roles=["admin", "SOC-Analysts"])).json()["role"] == "soc_analyst"
    assert who(token(tinh=None)).status_code == 401  # no province claim: no access
    assert who(token(tinh="  ")).status_code == 401
    assert who(token(tinh="Da Nang")).status_code == 401  # not a gazetteer name
    national = client(claimless_national=True)
    answer = national.get("/auth/whoami", headers={"Authorization": f"Bearer {token(tinh=None)}"})
    assert answer.status_code == 200 and answer.json()["province"] is None


def test_users_and_tokens_are_scoped_to_gazetteer_places_only(tmp_path):
    """`sentinel users add` / `tokens create` refuse a place the gazetteer does not know, naming the nearest."""
    import subprocess
    import sys

    env = {**os.environ, "SENTINEL_DATA_DIR": str(tmp_path)}

    def run(*args, stdin=""):
        command = [sys.executable, "-m", "sentinel.cli.main", *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=120)

    typo = run("users", "add", "an", "--role", "soc_analyst", "--province", "Ha Noi", "--password-stdin",
               stdin="a-long-password-1\n")  # fmt: skip
    assert typo.returncode == 2 and "Thành phố Hà Nội" in typo.stderr
    commune = run("tokens", "create", "edge", "--role", "collector", "--province", "Thành phố Hà Nội",
                  "--commune", "Phuong Ba Dinh")  # fmt: skip
    assert commune.returncode == 2 and "Phường Ba Đình" in commune.stderr
    ok = run("users", "add", "an", "--role", "soc_analyst", "--province", "Thành phố Hà Nội", "--commune",
             "Phường Ba Đình", "--password-stdin", stdin="a-long-password-1\n")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
