"""The first impression: the site root, the icon, navigation by role, times with their zone, the login card."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.identity import Principal

from .conftest import make_alert


class As:
    def __init__(self, role: str) -> None:
        self.principal = Principal(name="u", role=role)

    def authenticate(self, request):
        return self.principal


def test_root_leads_to_the_console_and_the_icon_is_served(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert '<link rel="icon" href="/console/static/favicon.svg"' in client.get("/console/alerts").text


def test_root_without_a_session_reaches_the_login_page(settings, store):
    from sentinel.api.auth import LocalOperator, SentinelAuthenticator

    app = create_app(settings, store, authenticator=LocalOperator())
    app.state.authenticator = SentinelAuthenticator(app.state.accounts, None)
    with TestClient(app) as http:
        r = http.get("/", follow_redirects=True)
        assert r.status_code == 200 and 'action="/auth/login"' in r.text
        assert "box-sizing:border-box" in r.text  # inputs fit the login card


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("dpo", ["/console/dpo", "/console/dashboard", "/console/search"], ["/console/alerts", "/console/cases"]),
        ("soc_analyst", ["/console/alerts", "/console/cases", "/console/search"], ["/console/dpo"]),
    ],
)
def test_navigation_shows_only_pages_the_role_may_use(settings, store, role, shown, hidden):
    with TestClient(create_app(settings, store, authenticator=As(role))) as http:
        page = http.get("/console/dashboard").text
        nav = re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)
        for href in shown:
            assert f'href="{href}"' in nav, (role, href)
        for href in hidden:
            assert f'href="{href}"' not in nav, (role, href)


def test_a_page_the_role_may_not_open_says_so_in_its_language(settings, store):
    with TestClient(create_app(settings, store, authenticator=As("dpo"))) as http:
        assert http.get("/console/", follow_redirects=False).headers["location"] == "/console/dpo"
        page = http.get("/console/alerts")
        assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
        assert "Vai trò cán bộ bảo vệ dữ liệu cá nhân không được mở trang này." in page.text
        assert 'href="/console/" id="back"' in page.text  # back to the role's own start page
        assert "Role data-protection officer may not open this page." in http.get("/console/cases?lang=en").text
        api = http.get("/api/alerts")  # scripts keep their JSON answer
        assert api.status_code == 403 and api.json()["detail"] == "role 'dpo' may not GET /api/alerts"
        bad = http.get("/console/dashboard", params={"days": "many"})  # the cookie set by ?lang=en holds
        assert bad.status_code == 422 and "The action cannot be done" in bad.text and "valid integer" in bad.text


def test_times_carry_their_zone(client, store):
    a = store.record_alert(make_alert())
    page = client.get(f"/console/alerts/{a.id}").text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+07", page)  # the display zone, named


def test_catalogue_keys_are_unique_and_the_timeline_speaks_the_language(client, store):
    from sentinel.api.console import TEMPLATES

    keys = re.findall(r"^  (\w+):", (TEMPLATES / "i18n.yml").read_text(encoding="utf-8"), re.M)
    assert len(keys) == len(set(keys)), sorted(k for k in set(keys) if keys.count(k) > 1)
    a = store.record_alert(make_alert())
    client.post(f"/console/alerts/{a.id}/action", data={"version": 1, "action": "acknowledge"})
    timeline = re.search(r'id="timeline">(.*?)</section>', client.get(f"/console/alerts/{a.id}").text, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", timeline)
    assert "tiếp nhận" in text and "tạo cảnh báo" in text and "Trạng thái: Mới → Đã tiếp nhận" in text
    english = client.get(f"/console/alerts/{a.id}?lang=en").text
    text = re.sub(r"<[^>]+>", "", re.search(r'id="timeline">(.*?)</section>', english, re.S).group(1))
    assert "acknowledged" in text and "Status: Open → Acknowledged" in text
