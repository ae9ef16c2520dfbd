"""Console pages over a real store, rendered through the real app (no browser: see tests/browser)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from sentinel.api.accounts import Accounts
from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from tests.content import CLASSIFIERS

from .conftest import make_alert

XSS = "<script>alert(1)</script>"


@pytest.fixture
def client(settings, store):
    with TestClient(create_app(settings, store, authenticator=LocalOperator())) as http:
        yield http


def evil_alert(store):
    a = make_alert(severity="critical", title=f"SQLi {XSS}")
    a.events[0]["user_agent"] = {"original": f'"><img src=x onerror=alert(2)>{XSS}'}
    a.events[0]["event"]["original"] = f"GET /?q={XSS} HTTP/1.1"
    return store.record_alert(a)


def test_pages_escape_log_content_and_send_csp(client, store):
    a = evil_alert(store)
    for url in ["/console/alerts", "/console/alerts?group=rule", f"/console/alerts/{a.id}", "/console/dashboard"]:
        r = client.get(url)
        assert r.status_code == 200, url
        assert XSS not in r.text and "<img src=x" not in r.text, url
        assert "script-src 'self'" in r.headers["content-security-policy"]
    detail = client.get(f"/console/alerts/{a.id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail  # shown, as text


def test_language_choice(client, store):
    store.record_alert(make_alert())
    assert "Hàng đợi cảnh báo" in client.get("/console/alerts").text  # Vietnamese by default
    r = client.get("/console/alerts?lang=en")
    assert "Alert queue" in r.text and r.cookies.get("sentinel_lang") == "en"
    assert "Alert queue" in client.get("/console/alerts").text  # remembered
    client.cookies.clear()
    assert "Alert queue" in client.get("/console/alerts", headers={"Accept-Language": "en-US,en;q=0.9"}).text


def test_triage_through_forms_with_conflict(client, store):
    a = store.record_alert(make_alert())
    r = client.post(
        f"/console/alerts/{a.id}/action", data={"version": 1, "action": "acknowledge"}, follow_redirects=False
    )
    assert r.status_code == 303
    stale = client.post(
        f"/console/alerts/{a.id}/action", data={"version": 1, "action": "note", "text": "late"}, follow_redirects=True
    )
    assert "version 2" in stale.text or "phiên bản 2" in stale.text
    assert store.get_alert(a.id).notes == []
    client.post(f"/console/alerts/{a.id}/action", data={"version": 2, "action": "note", "text": f"saw {XSS}"})
    bad = client.post(f"/console/alerts/{a.id}/action", data={"version": 3, "action": "close", "disposition": "benign"})
    assert bad.status_code == 422 and "reason" in bad.text
    client.post(
        f"/console/alerts/{a.id}/action",
        data={"version": 3, "action": "close", "disposition": "false_positive", "reason": "vendor scan"},
    )
    done = store.get_alert(a.id)
    assert (done.status, done.status_by, done.close_reason) == ("closed", "local", "vendor scan")
    page = client.get(f"/console/alerts/{a.id}").text
    assert "vendor scan" in page and "&lt;script&gt;" in page and XSS not in page


def test_bulk_close_from_queue(client, store):
    alerts = [store.record_alert(make_alert(ip=f"198.51.100.{i}")) for i in range(3)]
    sel = [f"{a.id}:{a.version}" for a in alerts[:2]] + [f"{alerts[2].id}:9"]
    r = client.post(
        "/console/alerts/bulk",
        data={"sel": sel, "action": "close", "disposition": "benign", "reason": "health checks"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/alerts?done=2-1"
    assert [store.get_alert(a.id).status for a in alerts] == ["closed", "closed", "open"]


def test_playbook_dry_run_and_approval_pages(client, store):
    a = store.record_alert(make_alert(severity="critical"))
    r = client.post(
        f"/console/alerts/{a.id}/runs",
        data={"playbook_id": "playbook--web-attack", "mode": "dry"},
        follow_redirects=False,
    )
    run_url = r.headers["location"]
    page = client.get(run_url).text
    assert 'id="decision"' in page and "203.0.113.7" in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    client.post(run_url + "/decision", data={"version": version, "decision": "approve", "comment": "ok"})
    page = client.get(run_url).text
    assert "nft" in page and "dry_run" in page
    assert "action--check-app" in page  # now waiting on the manual step
    assert client.get("/console/runs").text.count("playbook--") == 0  # ids are not shown, names are
    assert "Tấn công ứng dụng web vào cổng" in client.get("/console/runs").text
    assert "Web application attack" in client.get("/console/runs?lang=en").text


def test_suppression_forms(client):
    r = client.post(
        "/console/suppressions",
        data={
            "kind": "exception",
            "rule_id": "web-sqli",
            "match": "source.ip=203.0.113.0/24",
            "reason": "vendor pentest",
            "hours": 4,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/console/suppressions").text
    assert "203.0.113.0/24" in page and "vendor pentest" in page
    bad = client.post(
        "/console/suppressions", data={"kind": "window", "match": "nonsense", "reason": "x y z", "hours": 1}
    )
    assert bad.status_code == 422 and "viết trường=giá trị" in bad.text


def test_dashboard_draws_charts(client, store):
    for i in range(4):
        store.record_alert(make_alert(ip=f"198.51.100.{i}", province="Huế" if i % 2 else "Hà Nội"))
    page = client.get("/console/dashboard?days=1").text
    assert page.count("<rect") >= 4 and "Huế" in page and "198.51.100.1" in page


def test_browser_without_session_goes_to_login(settings, store):
    accounts = Accounts(settings.accounts_path)
    accounts.add_user("lan", "correct horse battery", "soc_analyst")
    accounts.close()
    with TestClient(create_app(settings, store)) as http:
        r = http.get("/console/alerts?status=open", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/auth/login?next=%2Fconsole%2Falerts%3Fstatus%3Dopen"
        http.post("/auth/login", data={"username": "lan", "password": "correct horse battery"})
        page = http.get("/console/alerts").text
        assert "<strong>lan</strong>" in page and "chuyên viên phân tích SOC" in page
        a = store.record_alert(make_alert())
        # a cookie session must send the CSRF token the page carries
        no_token = http.post(f"/console/alerts/{a.id}/action", data={"version": 1, "action": "acknowledge"})
        assert no_token.status_code == 403
        detail = http.get(f"/console/alerts/{a.id}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
        ok = http.post(
            f"/console/alerts/{a.id}/action",
            data={"version": 1, "action": "acknowledge", "csrf_token": token},
            follow_redirects=False,
        )
        assert ok.status_code == 303 and store.get_alert(a.id).status_by == "lan"


def test_dpo_review_pages(client, settings, tmp_path):
    from sentinel.classify.scan import scan_dataset

    csv = tmp_path / "ho_so_cong_dan.csv"
    csv.write_text(
        "ho_ten,so_cccd,ma_ho_so\nNguyễn Văn An,001203004567,HS-0001\nTrần Thị Bình,079195001234,HS-0002\n"
        "Lê Văn Cường,031098007654,HS-0003\n",
        encoding="utf-8",
    )
    client.get("/console/dpo")  # opens the classification store
    cstore = client.app.state.classification_store
    for result in scan_dataset(str(csv), classifiers_dir=CLASSIFIERS):
        cstore.save_scan(result)
    dataset = cstore.list_datasets()[0]["dataset"]
    listing = client.get("/console/dpo").text
    assert dataset in listing
    page = client.get(f"/console/dpo/{dataset}").text
    assert "so_cccd" in page and "001203004567" not in page  # examples are masked by the classifier
    r = client.post(
        "/console/dpo-review",
        data={
            "dataset": dataset,
            "field": "so_cccd",
            "version": 0,
            "decision": "override",
            "category": "sensitive",
            "reason": "CCCD with birth year: treat as sensitive",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    fld = cstore.field_view(dataset, "so_cccd")
    assert fld["category"] == "sensitive" and fld["review"]["by"] == "local"
    stale = client.post(
        "/console/dpo-review",
        data={"dataset": dataset, "field": "so_cccd", "version": 0, "decision": "accept", "reason": "again"},
        follow_redirects=True,
    )
    assert 'id="conflict"' in stale.text
    assert "Reviewed by" in client.get(f"/console/dpo/{dataset}?lang=en").text


def test_queue_pages(client, store):
    for i in range(230):
        store.record_alert(make_alert(ip=f"198.51.{i // 200}.{i % 200}", province="Huế" if i % 10 == 0 else "Hà Nội"))
    first = client.get("/console/alerts").text
    assert first.count('name="sel"') == 100 and 'id="next-page"' in first and 'id="prev-page"' not in first
    last = client.get("/console/alerts?page=3").text
    assert last.count('name="sel"') == 30 and 'id="prev-page"' in last and 'id="next-page"' not in last
    hue = client.get("/console/alerts?province=Huế").text
    assert hue.count('name="sel"') == 23 and 'id="pager"' not in hue
    grouped = client.get("/console/alerts?group=rule").text
    assert ">230<" in grouped.replace(" ", "")  # the group counts every alert, not one page


def test_every_message_used_by_the_templates_is_in_both_languages():
    from sentinel.api.console import TEMPLATES, catalogue

    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_]+)['"]\s*[,)]""", path.read_text(encoding="utf-8")))
    # keys built from a value: every status, severity, disposition, run status and suppression kind
    prefixes = {"st_": 4, "sev_": 5, "disp_": 3, "run_status_": 5, "kind_": 2}
    known = catalogue()
    assert not sorted(used - set(known))
    for prefix, n in prefixes.items():
        assert sum(1 for k in known if k.startswith(prefix)) == n, prefix


def test_informational_alerts_stay_out_of_the_default_queue(client, store):
    store.record_alert(make_alert(ip="198.51.100.1", severity="informational"))
    store.record_alert(make_alert(ip="198.51.100.2", severity="high"))
    assert client.get("/console/alerts").text.count('name="sel"') == 1
    assert client.get("/console/alerts?severity=informational").text.count('name="sel"') == 1
