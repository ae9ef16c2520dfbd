"""End-to-end console use in headless Chromium: log in, triage, run a playbook with approval, review data."""

from __future__ import annotations

import re

import pytest

from .conftest import SHOTS, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_login_and_queue_shows_hostile_log_text_as_text(login, site):
    page = login("lan")
    assert "lan" in page.inner_text("#principal") and "chuyên viên phân tích SOC" in page.inner_text("#principal")
    assert page.locator("#queue tbody tr").count() == 9
    shot(page, "01-queue")
    page.goto(site["url"] + "/console/alerts?group=rule&lang=en")
    assert page.locator("#groups tbody tr").count() == 4
    assert "Alert queue" in page.inner_text("h1")
    shot(page, "02-queue-grouped-en")
    page.goto(site["url"] + f"/console/alerts/{site['alerts']['web']}")
    evidence = page.inner_text("#evidence")
    assert "<script>alert('xss')</script>" in evidence  # displayed literally ...
    assert page.dialogs == []  # ... and never executed
    assert page.evaluate("document.querySelectorAll('#evidence script').length") == 0


def test_triage_alert_end_to_end(login, site):
    page = login("lan")
    page.goto(site["url"] + f"/console/alerts/{site['alerts']['brute']}")
    page.click("#do-acknowledge")
    assert "lan" in page.inner_text("#alert-status-by")
    page.fill("#note-text", "Nguồn 198.51.100.23 thử 1.200 mật khẩu; không có đăng nhập thành công.")
    page.click("#do-note")
    assert "không có đăng nhập thành công" in page.inner_text("#notes")
    page.fill("#assign-to", "minh")
    page.click("#do-assign")
    assert page.inner_text("#alert-assignee").strip() == "minh"

    # a second analyst on a stale copy of the page cannot overwrite the change
    other = login("lead")
    other.goto(site["url"] + f"/console/alerts/{site['alerts']['brute']}")
    page.fill("#note-text", "ghi chú thứ hai")
    page.click("#do-note")  # lan moves the alert on
    other.select_option("#close-form select[name=disposition]", "benign")
    other.fill("#close-reason", "stale page")
    other.click("#do-close")
    assert other.locator("#conflict").is_visible()
    assert "closed" not in site["store"].get_alert(site["alerts"]["brute"]).status

    page.select_option("#close-form select[name=disposition]", "true_positive")
    page.fill("#close-reason", "Brute force thật; đã chặn nguồn ở tường lửa biên")
    page.click("#do-close")
    alert = site["store"].get_alert(site["alerts"]["brute"])
    assert (alert.status, alert.disposition, alert.status_by) == ("closed", "true_positive", "lan")
    assert "đã chặn nguồn" in page.inner_text("#alert-close-reason")
    timeline = page.inner_text("#timeline")
    assert "tiếp nhận" in timeline and "Trạng thái: Đã tiếp nhận → Đã đóng" in timeline
    shot(page, "03-alert-closed")


def test_playbook_dry_run_with_approval(login, site):
    analyst = login("lan")
    analyst.goto(site["url"] + f"/console/alerts/{site['alerts']['web']}")
    analyst.click("button.run-dry[data-playbook='playbook--web-attack']")
    analyst.wait_for_url(re.compile(r".*/console/runs/[0-9a-f]+$"))
    run_url = analyst.url
    assert "action--block" in analyst.inner_text("#approval")
    assert analyst.locator("#do-approve").count() == 0  # blocking needs a SOC lead
    shot(analyst, "04-run-awaiting-approval")

    lead = login("lead")
    lead.goto(run_url)
    lead.fill("#decision-comment", "Nguồn tấn công xác nhận; chặn 24 giờ")
    lead.click("#do-approve")
    block = lead.locator("tr[data-step='action--block']").last
    assert "Chạy thử" in block.inner_text() and "lead" in block.inner_text() and "nft" in block.inner_text()
    # the manual check comes next and an analyst may confirm it
    analyst.goto(run_url)
    analyst.fill("#decision-comment", "Không thấy web shell")
    analyst.click("#do-approve")
    assert "Hoàn tất" in analyst.inner_text("#run-status")
    shot(analyst, "05-run-completed")


def test_dpo_reviews_a_classification(login, site):
    page = login("dpo")
    page.goto(site["url"] + "/console/dpo")
    page.click("a.dataset-link")
    row = page.locator("tr[data-field='so_cccd']")
    row.locator("select.decision").select_option("override")
    row.locator("select[name=category]").select_option("sensitive")
    row.locator("input.reason").fill("Số CCCD lộ năm sinh và nơi đăng ký khai sinh")
    row.locator("button.do-review").click()
    row = page.locator("tr[data-field='so_cccd']")
    assert "dpo" in row.inner_text() and "nhạy cảm" in row.inner_text()  # the category, translated
    shot(page, "06-dpo-review")


def test_dashboard(login, site):
    page = login("lead")
    page.goto(site["url"] + "/console/dashboard?days=3")
    assert page.locator("#chart-time rect").count() > 3
    assert "Huế" in page.inner_text("#chart-province")
    shot(page, "07-dashboard")
