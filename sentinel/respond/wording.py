"""The words of the messages Sentinel sends people (escalations, approval requests), per language.

Notifications go out in one language, ``respond.yml: language`` (Vietnamese by
default): the words here, rule titles from the rule files' ``translations`` and
playbook messages from the playbooks' ``x_sentinel_translations``. Severities and
statuses are named as the console names them.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "escalation": "ESCALATION",
        "late": "Not acknowledged in time: escalation level {level}.",
        "rule": "Rule",
        "severity": "Severity",
        "risk": "risk",
        "matches": "matches",
        "entity": "Entity",
        "place": "Place",
        "first": "First seen",
        "last": "last seen",
        "status": "Status",
        "assignee": "assignee",
        "open": "Open",
        "informational": "informational",
        "low": "low",
        "medium": "medium",
        "high": "high",
        "critical": "critical",
        "st_open": "open",
        "st_acknowledged": "acknowledged",
        "st_in_progress": "in progress",
        "st_closed": "closed",
        "approval": "approval needed",
        "dry_run": "dry run",
        "live": "LIVE",
        "waits": "Step {step} ({action}) waits for approval.",
        "inputs": "Inputs",
        "started": "Started by {who} on alert {alert}.",
    },
    "vi": {
        "escalation": "CHUYỂN CẤP",
        "late": "Chưa được tiếp nhận đúng hạn: chuyển lên cấp {level}.",
        "rule": "Quy tắc",
        "severity": "Mức độ",
        "risk": "điểm rủi ro",
        "matches": "số lần khớp",
        "entity": "Đối tượng",
        "place": "Địa bàn",
        "first": "Thấy lần đầu",
        "last": "lần cuối",
        "status": "Trạng thái",
        "assignee": "người xử lý",
        "open": "Mở",
        "informational": "thông tin",
        "low": "thấp",
        "medium": "trung bình",
        "high": "cao",
        "critical": "nghiêm trọng",
        "st_open": "mới",
        "st_acknowledged": "đã tiếp nhận",
        "st_in_progress": "đang xử lý",
        "st_closed": "đã đóng",
        "approval": "cần phê duyệt",
        "dry_run": "chạy thử",
        "live": "THẬT",
        "waits": "Bước {step} ({action}) đang chờ phê duyệt.",
        "inputs": "Đầu vào",
        "started": "{who} khởi chạy trên cảnh báo {alert}.",
    },
}
