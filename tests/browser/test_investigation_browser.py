"""An investigation in headless Chromium: search → entity → case → close, and every new page on the way.

Screenshots go to the folder in ``conftest.SHOTS`` (under the system temp folder).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from sentinel import ecs

from .conftest import SHOTS, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
ATTACKER = "203.0.113.7"


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def events(site) -> list[dict]:
    """Web requests from the attacker (12 of them 500s) and from a second address, over the last two hours."""
    now = datetime.now(UTC)
    docs = []
    for i in range(30):
        ip = ATTACKER if i % 3 else "198.51.100.44"
        status = 500 if ip == ATTACKER and i < 18 else 200
        ts = ecs.format_ts(now - timedelta(minutes=4 * i))
        docs.append(
            {
                "@timestamp": ts,
                "event": {
                    "id": f"b-{i}",
                    "dataset": "nginx.access",
                    "kind": "event",
                    "original": f'{ip} - - "GET /dich-vu-cong/tra-cuu?id={i} HTTP/1.1" {status}',
                },
                "source": {"ip": ip},
                "user": {"name": "can_bo_01"} if i % 5 == 0 else {},
                "url": {"original": f"/dich-vu-cong/tra-cuu?id={i}"},
                "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
                "labels": {"province": "Hà Nội", "commune": "Phường Ba Đình"},
            }
        )
    site["store"].append_events(docs)
    return docs


def test_search_to_entity_to_case_to_close(login, site, events):
    page = login("lan")
    expected = sum(1 for e in events if e["source"]["ip"] == ATTACKER and e["http"]["response"]["status_code"] == 500)
    page.goto(site["url"] + "/console/search?span=24h")
    page.fill("#q", f"source.ip:{ATTACKER} AND http.response.status_code:500")
    page.click("#search-go")
    assert page.locator("#results tr.event-row").count() == expected
    assert f"{expected} sự kiện khớp" in page.inner_text("#histogram h2")
    assert page.locator("#histogram svg rect").count() > 3
    assert "Asia/Ho_Chi_Minh" in page.inner_text("#zone")
    shot(page, "10-search")

    # a value adds a filter ...
    page.locator("#results a.val", has_text="GET").first.click()
    assert 'http.request.method:"GET"' in page.input_value("#q")
    assert page.locator("#results tr.event-row").count() == expected
    # ... and the address opens its entity page
    page.locator("#results a.ent").first.click()
    page.wait_for_url(f"**/console/entities/ip/{ATTACKER}")
    assert page.inner_text("#entity-name") == ATTACKER
    assert "SQL injection" in page.inner_text("#entity-alerts")
    assert page.locator("#entity-events tr.event-row").count() > 0
    assert "Bên ngoài" in page.inner_text("#address-plan")
    assert "can_bo_01" in page.inner_text("#related")
    shot(page, "11-entity-ip")

    # open a case from the entity's alert through the queue selection
    page.goto(site["url"] + "/console/alerts?sort=severity")
    web_row = page.locator(f"tr[data-alert='{site['alerts']['web']}']")
    web_row.locator("input.sel").check()
    page.locator("tr[data-alert]", has_text="Vulnerability scanner").first.locator("input.sel").check()
    page.select_option("#bulk-action", "case")
    page.click("#bulk-apply")
    page.wait_for_url(re.compile(r".*/console/cases/case-[0-9a-f]+$"))
    assert page.locator("#case-alerts tbody tr").count() == 2
    assert ATTACKER in page.inner_text("#case-observables")
    page.fill("#case-assign-to", "lan")
    page.click("#case-assign")
    assert page.inner_text("#case-assignee").strip() == "lan"
    page.fill("#case-task-title", "Chặn nguồn ở tường lửa biên")
    page.fill("#case-task-owner", "lead")
    page.click("#case-add-task")
    page.locator("button.finish-task").click()
    assert "xong bởi lan" in page.inner_text("#case-tasks")
    page.select_option("#case-close-form select[name=resolution]", "true_positive")
    page.fill("#case-summary-text", "SQLi từ 203.0.113.7 và quét lỗ hổng; đã chặn, không có dữ liệu bị lộ")
    page.click("#case-close")
    assert "Đã đóng" in page.inner_text("#case-status")
    assert "không có dữ liệu bị lộ" in page.inner_text("#case-summary")
    timeline = page.inner_text("#case-timeline")
    assert all(verb in timeline for verb in ("tạo vụ việc", "giao xử lý", "thêm nhiệm vụ", "đóng vụ việc"))
    shot(page, "12-case-closed")
    page.goto(site["url"] + "/console/cases?status=closed&lang=en")
    assert page.locator("#cases tbody tr").count() == 1
    shot(page, "13-cases-en")


def test_queue_sorting_filters_and_rule_source(login, site):
    page = login("lan")
    page.goto(site["url"] + "/console/alerts?lang=vi")
    page.click("#sort-severity")
    severities = page.locator("#queue tbody tr td:nth-child(2)").all_inner_texts()
    assert severities[0].strip() == "Nghiêm trọng"
    page.fill("#rule-filter", "scanner")
    page.click("#filters button[type=submit]")
    assert page.locator("#queue tbody tr").count() == 6
    assert page.locator("#severity-filter input:checked").count() == 4
    # no mid-octet wrapping: every address in the queue sits on one line
    lines = page.eval_on_selector_all(
        "#queue span.entity", "els => els.map(e => new Set(Array.from(e.getClientRects(), r => r.top)).size)"
    )
    assert lines and all(n == 1 for n in lines)
    shot(page, "14-queue-filtered")
    page.goto(site["url"] + f"/console/alerts/{site['alerts']['brute']}")
    assert "Brute Force: Password Guessing" in page.inner_text("#attack")
    page.goto(site["url"] + "/console/search?q=source.ip:1.2.3.4+AND+(oops")
    assert page.inner_text("#search-error").startswith("Vị trí 23: ")  # the position, in the reader's language
    shot(page, "15-search-error")


def test_saved_filter_survives_a_reload(login, site):
    page = login("lead")
    page.goto(site["url"] + "/console/alerts?severity=high&severity=critical")
    page.fill("#saved-name", "Nghiêm trọng")
    page.click("#save-filter")
    page.reload()
    saved = page.locator("#saved-list a.saved-filter")
    assert saved.count() == 1 and saved.inner_text() == "Nghiêm trọng"
    page.goto(site["url"] + "/console/alerts")
    page.locator("#saved-list a.saved-filter").click()
    assert "severity=high" in page.url and page.locator("#severity-filter input:checked").count() == 2


def test_dpo_sees_only_its_pages(login, site):
    page = login("dpo")
    page.goto(site["url"] + "/console/")
    page.wait_for_url("**/console/dpo")
    nav = page.inner_text("header nav")
    assert "Rà soát phân loại dữ liệu" in nav and "Hàng đợi cảnh báo" not in nav and "Vụ việc" not in nav
    page.goto(site["url"] + "/")
    page.wait_for_url("**/console/dpo")
    shot(page, "16-dpo-home")
