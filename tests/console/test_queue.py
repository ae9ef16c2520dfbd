"""The queue at hundreds of alerts: sorting, first seen, rule by name, checkboxes, kept filters, assignees."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sentinel.api.accounts import Accounts

from .conftest import make_alert


def order_of(html: str) -> list[str]:
    return re.findall(r'<tr data-alert="([^"]+)">', html)


def seed(store):
    now = datetime.now(UTC)
    a = make_alert(ip="198.51.100.1", severity="medium", title="Quét thư mục web", rule_id="web-scan", when=now)
    b = make_alert(ip="198.51.100.2", severity="critical", title="SQL injection", when=now - timedelta(hours=3))
    c = make_alert(ip="198.51.100.3", severity="high", title="Dò mật khẩu SSH", rule_id="ssh-brute", when=now)
    a.count, b.count, c.count = 5, 50, 1
    a.first_seen = (now - timedelta(hours=5)).isoformat()
    c.first_seen = (now - timedelta(minutes=1)).isoformat()
    return [store.record_alert(x) for x in (a, b, c)]


def test_sortable_columns_and_first_seen(client, store):
    a, b, c = seed(store)
    default = client.get("/console/alerts").text
    assert order_of(default) == [a.id, c.id, b.id] or order_of(default) == [c.id, a.id, b.id]
    assert order_of(client.get("/console/alerts?sort=severity").text) == [b.id, c.id, a.id]
    assert order_of(client.get("/console/alerts?sort=count&order=asc").text) == [c.id, a.id, b.id]
    assert order_of(client.get("/console/alerts?sort=first_seen").text)[0] == c.id
    page = client.get("/console/alerts?sort=count").text
    assert 'id="sort-count"' in page and "▼" in page and "sort=count&amp;order=asc" in page
    assert "Lần đầu" in page  # the first-seen column
    assert client.get("/console/alerts?sort=nonsense").status_code == 422


def test_rule_filter_by_name_or_id(client, store):
    a, b, c = seed(store)
    assert order_of(client.get("/console/alerts", params={"rule": "mật khẩu"}).text) == [c.id]
    assert order_of(client.get("/console/alerts", params={"rule": "sql INJECTION"}).text) == [b.id]
    assert order_of(client.get("/console/alerts", params={"rule": "web-scan"}).text) == [a.id]
    assert '<option value="Dò mật khẩu SSH">' in client.get("/console/alerts").text


def test_status_and_severity_are_checkboxes_showing_their_state(client, store):
    seed(store)
    html = client.get("/console/alerts?severity=critical&status=open").text
    checked = re.findall(r'<input type="checkbox" name="(status|severity)" value="(\w+)" checked>', html)
    assert sorted(checked) == [("severity", "critical"), ("status", "open")]
    default = client.get("/console/alerts").text
    states = {v: bool(c) for v, c in re.findall(r'name="status" value="(\w+)" ?(checked)?>', default)}
    assert states == {"open": True, "acknowledged": True, "in_progress": True, "closed": False}


def test_filters_are_kept_after_a_bulk_action(client, store):
    _, b, c = seed(store)
    html = client.get("/console/alerts?severity=critical&severity=high&sort=count").text
    back = re.search(r'name="back" value="([^"]*)"', html).group(1).replace("&amp;", "&")
    r = client.post(
        "/console/alerts/bulk",
        data={"action": "acknowledge", "sel": [f"{b.id}:{b.version}"], "back": back},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/console/alerts?severity=critical&severity=high&sort=count&done=1-0"
    hostile = client.post(
        "/console/alerts/bulk",
        data={"action": "acknowledge", "sel": [f"{c.id}:{c.version}"], "back": "x=1&done=9-9#//evil.example"},
        follow_redirects=False,
    )
    assert hostile.headers["location"].startswith("/console/alerts?x=1")
    assert "9-9" not in hostile.headers["location"]


def test_assignee_picker_lists_analysts(client, store, settings):
    seed(store)
    accounts: Accounts = client.app.state.accounts
    accounts.add_user("lan", "a-long-password-1", "soc_analyst")
    accounts.add_user("dung", "a-long-password-2", "dpo")
    html = client.get("/console/alerts").text
    users = re.search(r'<datalist id="users">(.*?)</datalist>', html, re.S).group(1)
    assert '<option value="lan">' in users and "dung" not in users
    assert 'list="users"' in html


def test_a_campaign_is_announced_once_with_ways_to_group_it(client, store):
    from tests.console.test_cases import spray

    spray(store, 6)
    html = client.get("/console/alerts").text
    notices = re.findall(r'<p class="flash warn campaign" data-rule="auth-spray">(.*?)</p>', html, re.S)
    assert len(notices) == 1 and "6 cảnh báo từ 6 đối tượng" in notices[0]
    assert "group=rule" in notices[0] and "/console/cases" in notices[0]
    assert 'class="flash warn campaign"' not in client.get("/console/alerts?group=rule").text
