"""Authorisation: every route x every role, checked against the one permission table (deny by default)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.api.permissions import PERMISSIONS, PUBLIC, allowed_roles
from sentinel.config import load_settings
from sentinel.identity import ROLES, Principal
from sentinel.store.sqlite import SQLiteStore


class As:
    """Authenticates every request as one chosen principal (the real app, a chosen identity)."""

    def __init__(self, role: str) -> None:
        self.principal = Principal(
            name=f"test-{role}", role=role, province="Thành phố Hà Nội", commune="Phường Ba Đình"
        )

    def authenticate(self, request):
        return self.principal


def routes(app) -> list[tuple[str, str]]:
    found = set()

    def walk(items):
        for r in items:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            elif getattr(r, "methods", None) and hasattr(r, "endpoint") and type(r).__name__ == "APIRoute":
                for m in r.methods:
                    found.add((m, r.path))

    walk(app.routes)
    return sorted(found)


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path_factory.mktemp("perm"))})


def test_every_route_is_declared(settings):
    app = create_app(settings, SQLiteStore(settings.sqlite_path))
    undeclared = [r for r in routes(app) if r not in PERMISSIONS and r not in PUBLIC]
    assert not undeclared, f"routes with no permission entry (they are refused for everyone): {undeclared}"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_table_allows(settings, role):
    app = create_app(settings, SQLiteStore(settings.sqlite_path), authenticator=As(role))
    wrong = []
    # as a server: leaving stops what a request started (the ingest writer process)
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path in routes(app):
            if (method, path) in PUBLIC:
                continue
            response = client.request(method, _concrete(path), json={}, follow_redirects=False)
            allowed = role in allowed_roles(method, path)
            # the JSON refusal, or for a console page the refusal page in the reader's language
            refused = response.status_code == 403 and ("role" in response.text or 'id="error"' in response.text)
            if response.status_code >= 500 or allowed == refused:
                wrong.append((method, path, response.status_code, response.text[:120]))
    assert not wrong, f"{role}: {wrong}"


def test_unknown_route_is_refused_for_everyone(settings):
    from fastapi import APIRouter

    app = create_app(settings, SQLiteStore(settings.sqlite_path), authenticator=As("admin"))
    extra = APIRouter()

    @extra.get("/api/new-thing")
    def new_thing() -> dict:
        return {"secret": 1}

    app.include_router(extra)
    assert TestClient(app).get("/api/new-thing").status_code == 403


def test_no_credentials_means_401_and_console_redirects_to_login(settings):
    from sentinel.api.accounts import Accounts

    Accounts(settings.accounts_path).add_user("someone", "a-long-password-1", "soc_analyst")
    app = create_app(settings, SQLiteStore(settings.sqlite_path))
    client = TestClient(app)
    assert client.get("/api/alerts").status_code == 401
    page = client.get("/console/alerts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/auth/login?next=%2Fconsole%2Falerts"
    back = client.get("/console/alerts?status=open&q=a b", follow_redirects=False)  # back to the same filtered page
    assert back.headers["location"] == "/auth/login?next=%2Fconsole%2Falerts%3Fstatus%3Dopen%26q%3Da%2520b"
    assert client.get("/health").status_code == 200
    assert client.get("/auth/login").status_code == 200


def test_head_is_allowed_exactly_where_get_is():
    """HEAD reads like GET: the same roles (Starlette answers 405 before authorisation on routes without HEAD)."""
    assert allowed_roles("HEAD", "/api/alerts") == allowed_roles("GET", "/api/alerts") != frozenset()
    assert allowed_roles("HEAD", "/auth/whoami") == allowed_roles("GET", "/auth/whoami") != frozenset()
    assert allowed_roles("HEAD", "/api/no-such-route") == frozenset()
