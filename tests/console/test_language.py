"""Everything the console shows is in the reader's language.

Three checks: the templates hold no text of their own (every word goes through the catalogue);
every value the code can put on a page (statuses, actions, roles, changed fields) has a message;
and every page, walked with real data in Vietnamese and in English, shows none of the other
language's interface strings, rule titles or playbook names.
"""

from __future__ import annotations

import re
import typing
from html.parser import HTMLParser

import pytest
import yaml
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.api.console import TEMPLATES, catalogue
from sentinel.classify import scan_dataset
from sentinel.identity import ROLES
from sentinel.models import AlertStatus, Disposition, Level
from sentinel.respond.cases import CaseActionName, CaseStatus
from sentinel.respond.lifecycle import ActionName
from sentinel.respond.runs import RunStatus, StepStatus
from sentinel.store.base import AlertQuery
from tests.console.conftest import web_event
from tests.content import CLASSIFIERS
from tests.respond.conftest import REPO, make_alert

# Words a template may hold as they are: the product's name, a schema's, a field name, the language switch.
ALLOWED_WORDS = {"Sentinel", "ECS", "timestamp", "VI", "EN", "v"}  # v: a version number's prefix (v3)
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
VISIBLE_ATTRS = ("placeholder", "title", "aria-label", "alt")
# A rule and a playbook with their English and Vietnamese texts, used on the pages below.
SQLI = "e530a98b-7a64-4149-be86-1464ae83359c"
SQLI_TITLE = "SQL injection with UNION SELECT in a portal query string"


def _without_jinja(text: str) -> str:
    return JINJA.sub(" ", text)


class _Visible(HTMLParser):
    """Text a reader sees: text nodes and the attributes a browser shows, outside data (``mono``, ``raw``, code)."""

    SKIP: typing.ClassVar = {"script", "style", "pre", "code", "datalist", "textarea"}
    VOID: typing.ClassVar = {"br", "input", "meta", "link", "img", "hr", "rect", "line"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: is it data?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        data = tag in self.SKIP or bool(re.search(r"\b(mono|raw)\b", values.get("class") or ""))
        data = data or values.get("id") == "error-detail"  # technical detail from below the console, in English
        if not (any(self.stack) or data):
            self.parts += [str(values[a]) for a in VISIBLE_ATTRS if values.get(a)]
        if tag not in self.VOID:
            self.stack.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not any(self.stack):
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_templates_hold_no_words_of_their_own():
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        source = _without_jinja(path.read_text(encoding="utf-8"))
        text = re.sub(r"\S*[/?&=]\S*", " ", re.sub(r"<[^>]*>", " ", source))  # a macro's URL is not text
        attrs = re.findall(rf"(?:{'|'.join(VISIBLE_ATTRS)})=\"([^\"]*)\"", source)
        for chunk in [text, *attrs]:
            for word in re.findall(r"[^\W\d_][\w@.-]*", chunk):
                if word not in ALLOWED_WORDS:
                    found.append(f"{path.name}: {word}")
    assert not found, found


def test_every_value_a_page_shows_has_its_message():
    known = set(catalogue())
    wanted = {
        "st_": typing.get_args(AlertStatus),
        "sev_": typing.get_args(Level),
        "disp_": typing.get_args(Disposition),
        "run_status_": typing.get_args(RunStatus),
        "step_st_": typing.get_args(StepStatus),
        "case_st_": typing.get_args(CaseStatus),
        "case_act_": (*typing.get_args(CaseActionName), "create"),
        "tl_": (*typing.get_args(ActionName), "create", "fold", "update", "run", "notify"),
        "role_": ROLES,
        "error_": ("400", "403", "404", "409", "422", "503"),
        # what alert and case timelines list as changed
        "field_": (
            *("status", "assignee", "disposition", "close_reason", "tags", "severity", "risk_score", "count"),
            *("title", "alerts", "alert_ids", "description", "resolution", "summary", "closed_at"),
        ),
    }
    missing = [prefix + str(v) for prefix, values in wanted.items() for v in values if prefix + str(v) not in known]
    assert not missing, missing


def test_every_reason_the_query_parser_gives_is_in_both_languages():
    """The console's English for a query error is the parser's own (what the CLI and the API say)."""
    from sentinel.store.query import REASONS

    messages = catalogue()
    assert {k.removeprefix("query_error_") for k in messages if k.startswith("query_error_")} == set(REASONS)
    for code, reason in REASONS.items():
        assert messages[f"query_error_{code}"]["en"] == "Position {position}: " + reason, code
        fields = set(re.findall(r"\{(\w+)\}", messages[f"query_error_{code}"]["vi"]))
        assert fields == {"position"} | set(re.findall(r"\{(\w+)\}", reason)), code


def test_an_unknown_message_key_is_an_error_not_english():
    from sentinel.api.console.i18n import translator, value_translator

    with pytest.raises(KeyError):
        translator("vi")("no_such_message")
    assert value_translator("vi")("st_", "closed") == "Đã đóng"
    assert value_translator("vi")("st_", "archived") == "archived"  # a value without a message shows as itself


def _english_and_vietnamese() -> tuple[set[str], set[str]]:
    """Interface strings, rule titles and playbook names of each language (those that differ between them)."""
    en, vi = set(), set()
    for texts in catalogue().values():
        if texts["en"] != texts["vi"]:
            en.add(texts["en"])
            vi.add(texts["vi"])
    for path in (REPO / "rules").rglob("*.yml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                en.add(doc["title"])
                vi.add(doc["translations"]["vi"]["title"])
    for path in (REPO / "playbooks").glob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        table = doc["x_sentinel_translations"]["vi"]
        en.add(doc["name"])
        vi.add(table["name"])
        for sid, step in doc["workflow"].items():
            if step.get("name"):
                en.add(step["name"])
                vi.add(table["steps"][sid]["name"])
    # the values themselves, as a page that forgot to translate one would show them (in_progress, soc_lead)
    for values in (AlertStatus, Level, Disposition, RunStatus, StepStatus, CaseStatus, CaseActionName, ActionName):
        en.update(typing.get_args(values))
    en.update(ROLES)
    # placeholders ({n}) and strings too short to tell a language by are left out
    keep = lambda s: "{" not in s and len(s) >= 4 and re.search(r"[^\W\d_]{3}", s)  # noqa: E731
    return {s for s in en if keep(s)}, {s for s in vi if keep(s) and re.search(r"[^\x00-\x7f]", s)}


def _leaks(page: str, strings: set[str]) -> list[str]:
    text = visible(page)
    out = []
    for s in strings:
        # the string, standing alone: not a piece of a longer word
        if re.search(rf"(?<![\w]){re.escape(s)}(?![\w])", text):
            out.append(s)
    return sorted(out)


@pytest.fixture
def walked(settings, store, tmp_path):
    """Every console page with data on it: alerts of a real rule, a playbook run waiting on its manual step, a case
    with a history, a suppression, events, and pages that refuse (404, 403, a malformed query)."""
    events = [web_event(i, "203.0.113.7", 500, "nguyenvana", i) for i in range(6)]
    store.append_events(events)
    for i in range(6):
        store.record_alert(make_alert(rule_id=SQLI, title=SQLI_TITLE, ip=f"198.51.100.{i}"))
    alert = store.record_alert(make_alert(rule_id=SQLI, title=SQLI_TITLE, severity="critical"))
    with TestClient(create_app(settings, store, authenticator=LocalOperator())) as http:
        post = http.post
        post(f"/console/alerts/{alert.id}/action", data={"version": 1, "action": "acknowledge"})
        post(f"/console/alerts/{alert.id}/action", data={"version": 2, "action": "rate", "severity": "high"})
        post(f"/console/alerts/{alert.id}/action", data={"version": 3, "action": "tag", "tags": "pentest"})
        run_url = post(
            f"/console/alerts/{alert.id}/runs", data={"playbook_id": "playbook--web-attack", "mode": "dry"}
        ).url.path
        version = re.search(r'name="version" value="(\d+)"', http.get(run_url).text).group(1)
        post(run_url + "/decision", data={"version": version, "decision": "approve", "comment": "ok"})
        case_url = post("/console/cases", data={"title": "Vụ SQLi", "severity": "high", "sel": [alert.id]}).url.path
        post(case_url + "/action", data={"version": 1, "action": "start"})
        post(case_url + "/action", data={"version": 2, "action": "add_task", "task": "Kiểm tra", "owner": "lan"})
        post(
            "/console/suppressions",
            data={
                "kind": "exception",
                "rule_id": SQLI,
                "match": "source.ip=203.0.113.7",
                "reason": "kiểm thử",
                "hours": 4,
            },
        )
        http.get("/console/dpo")  # opens the classification store
        classifications = http.app.state.classification_store
        csv = tmp_path / "ho_so.csv"
        csv.write_text("ho_ten,so_cccd\nNguyễn Văn An,001203004567\nTrần Thị Bình,079195001234\n", encoding="utf-8")
        for result in scan_dataset(str(csv), classifiers_dir=CLASSIFIERS):
            classifications.save_scan(result)
        dataset = classifications.list_datasets()[0]["dataset"]
        post("/console/dpo-review", data={"dataset": dataset, "field": "so_cccd", "version": 0, "decision": "accept",
                                          "reason": "đúng"})  # fmt: skip
        pages = [
            f"/console/dpo/{dataset}",
            "/console/alerts",
            "/console/alerts?group=rule",
            "/console/alerts?status=all&severity=critical&severity=high",
            f"/console/alerts/{alert.id}",
            run_url,
            "/console/runs",
            "/console/cases",
            case_url,
            "/console/search?span=24h",
            f"/console/search?alert={alert.id}",
            "/console/search?q=source.ip:203.0.113.7%20AND%20(x",
            "/console/search?start=2026-07-02T10:00&end=2026-07-01T10:00",
            "/console/entities/ip/203.0.113.7",
            "/console/entities/user/nguyenvana",
            "/console/entities/ip/not-an-ip",
            "/console/dashboard",
            "/console/suppressions",
            "/console/dpo",
            f"/console/rules/{SQLI}",
            "/console/rules/no-such-rule",
            "/console/alerts?sort=nonsense",
        ]
        yield {
            lang: {url: http.get(f"{url}{'&' if '?' in url else '?'}lang={lang}").text for url in pages}
            for lang in ("vi", "en")
        }


def test_every_page_speaks_only_the_readers_language(walked):
    english, vietnamese = _english_and_vietnamese()
    leaks = {}
    for url, page in walked["vi"].items():
        if found := _leaks(page, english):
            leaks[f"vi {url}"] = found
    for url, page in walked["en"].items():
        if found := _leaks(page, vietnamese):
            leaks[f"en {url}"] = found
    assert not leaks, leaks
    # and the pages did show translated content, not just chrome
    vi_alert = next(p for u, p in walked["vi"].items() if re.fullmatch(r"/console/alerts/\w+", u))
    assert "Chèn mã SQL bằng UNION SELECT trong chuỗi truy vấn của cổng" in visible(vi_alert)
    assert "Trạng thái: Mới → Đã tiếp nhận" in visible(vi_alert)
    en_run = next(p for u, p in walked["en"].items() if u.startswith("/console/runs/"))
    assert "Check the application" in visible(en_run)
    vi_run = next(p for u, p in walked["vi"].items() if u.startswith("/console/runs/"))
    assert "Kiểm tra URL bị nhắm tới (/dich-vu-cong/tra-cuu" in visible(vi_run)  # the instruction, variables filled
    assert "Vị trí 27: dấu '(' không được đóng." in visible(
        walked["vi"]["/console/search?q=source.ip:203.0.113.7%20AND%20(x"]
    )
    assert "không phải địa chỉ IP" in visible(walked["vi"]["/console/entities/ip/not-an-ip"])
    assert "Quy tắc: Chèn mã SQL bằng UNION SELECT" in visible(walked["vi"][f"/console/rules/{SQLI}"])
    assert f"Rule: {SQLI_TITLE}" in visible(walked["en"][f"/console/rules/{SQLI}"])


def test_the_queue_finds_a_rule_by_its_name_in_either_language(client, store):
    store.record_alert(make_alert(rule_id=SQLI, title=SQLI_TITLE))
    store.record_alert(make_alert(rule_id="web-other", title="Something else", ip="198.51.100.9"))
    for words in ("chèn mã sql", "UNION SELECT portal"):
        page = client.get("/console/alerts", params={"rule": words}).text
        assert page.count('name="sel"') == 1, words
    vi = client.get("/console/alerts").text
    assert '<option value="Chèn mã SQL bằng UNION SELECT trong chuỗi truy vấn của cổng">' in vi  # the name list
    case = client.post(
        "/console/alerts/bulk",
        data={"action": "case", "sel": [f"{a.id}:{a.version}" for a in store.list_alerts(AlertQuery(rule_id=SQLI))]},
    )
    assert "Chèn mã SQL bằng UNION SELECT trong chuỗi truy vấn của cổng" in case.text  # the case is named in it too
