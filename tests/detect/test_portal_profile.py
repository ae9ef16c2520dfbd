"""Portal profile: request kinds on two portal layouts, and the behaviour rules reading them end to end.

Layout A is the national portal's (Vietnamese paths, dossier codes in a query parameter); layout B a
generic portal nobody described (English REST paths, numeric ids in the path). The default profile
must tag both, and the same rules must find the same attacks on both, without firing on people.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.collect.parsers import parse_line
from sentinel.collect.parsers.portal import load_profile
from sentinel.config import DEFAULT_CONTENT_DIR

RULES = DEFAULT_CONTENT_DIR / "rules" / "web"

LAYOUTS = {
    "A": {
        "login": "/dang-nhap",
        "record": "/dich-vu-cong/ho-so/tra-cuu?maHoSo=000.00.01.H29-260701-{n:04d}",
        "download": "/tai-lieu/tai-ve?tep=to-khai-{n}.pdf",
        "static": "/static/js/app.{n}.js",
        "admin": "/quan-tri/nguoi-dung",
        "form": "/gop-y",
        "health": "/healthz",
    },
    "B": {
        "login": "/auth/login",
        "record": "/api/v2/applications/{n:06d}",
        "download": "/files/{n}/attachment.pdf",
        "static": "/assets/logo-{n}.png",
        "admin": "/admin/users",
        "form": "/contact",
        "health": "/health",
    },
}


def line(ip: str, method: str, target: str, status: int, t: int, agent: str = "Mozilla/5.0 (X11; Linux)") -> str:
    minute, second = divmod(t, 60)
    hour, minute = divmod(minute, 60)
    stamp = f"01/Jul/2026:{9 + hour:02d}:{minute:02d}:{second:02d} +0700"
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 512 "-" "{agent}"'


@pytest.mark.parametrize("layout", ["A", "B"])
def test_the_default_profile_tags_both_layouts(layout: str) -> None:
    for kind, template in LAYOUTS[layout].items():
        target = template.format(n=42)
        e = parse_line(line("203.0.113.1", "GET", target, 200, 0).encode(), source="t", position=0)
        assert e["labels"]["request_kind"] == kind, target
    rec = parse_line(
        line("203.0.113.1", "GET", LAYOUTS[layout]["record"].format(n=42), 200, 0).encode(), source="t", position=0
    )
    assert rec["labels"]["record_id"] in ("000.00.01.H29-260701-0042", "000042")
    home = parse_line(line("203.0.113.1", "GET", "/", 200, 0).encode(), source="t", position=0)
    assert "request_kind" not in home.get("labels", {})


def _traffic(layout: str) -> list[str]:
    paths = LAYOUTS[layout]
    lines = []
    # credential stuffing: 30 refused POSTs to the login form in one minute, then one accepted
    for i in range(30):
        lines.append(line("198.51.100.10", "POST", paths["login"], 401, i * 2))
    lines.append(line("198.51.100.10", "POST", paths["login"], 302, 61))
    # an anonymous client walking record ids at machine speed
    for i in range(60):
        lines.append(line("198.51.100.20", "GET", paths["record"].format(n=1000 + i), 200, 100 + i))
    # hard negatives: an officer paging through dossiers, a health probe, a declared crawler
    for i in range(25):
        lines.append(line("10.20.1.5", "GET", paths["record"].format(n=2000 + i), 200, 200 + i * 12))
    for i in range(150):
        lines.append(line("10.0.0.9", "GET", paths["health"], 200, i * 2))
    for i in range(80):
        agent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        lines.append(line("66.249.66.1", "GET", paths["record"].format(n=3000 + i), 200, 300 + i, agent))
    # a citizen who mistypes twice, then logs in
    lines += [
        line("14.161.5.5", "POST", paths["login"], 401, 400),
        line("14.161.5.5", "POST", paths["login"], 302, 420),
    ]
    return sorted(lines, key=lambda text: text.split("[", 1)[1][:26])


@pytest.mark.parametrize("layout", ["A", "B"])
def test_behaviour_rules_find_the_attacks_and_spare_the_people(tmp_path: Path, layout: str) -> None:
    log = tmp_path / f"access-{layout}.log"
    log.write_text("\n".join(_traffic(layout)) + "\n")
    result = CliRunner().invoke(cli, ["detect", "--rules", str(RULES), str(log)])
    assert result.exit_code == 0, result.output
    found: dict[str, set[str]] = {}
    for text in result.stdout.splitlines():
        alert = json.loads(text)
        found.setdefault(alert["rule"]["title"], set()).add(alert["events"][-1]["source"]["ip"])
    assert found.pop("Brute force or credential stuffing against a portal login from one address") == {"198.51.100.10"}
    assert found.pop("Record id enumeration by one address") == {"198.51.100.20"}
    # the citizen's typo is reported at medium, as the rule says; the stuffer's success is what matters
    assert "198.51.100.10" in found.pop("Portal login accepted for an address that was just refused")
    assert found == {}


def test_a_portal_profile_file_is_validated_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "profile.yaml"
    bad.write_text("name: x\nkinds:\n  - kind: login\n    paths: ['(unclosed']\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "detect", "--portal-profile", str(bad), str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and f"{bad}:" in proc.stderr and "not a regular expression" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_portal_profile_names_its_own_paths(tmp_path: Path) -> None:
    own = tmp_path / "profile.yaml"
    own.write_text(
        "name: tinh-x\nkinds:\n  - kind: login\n    paths: ['^/cong-dan/vao$']\n  - kind: record\n    ids: true\n"
        "ids:\n  min_digits: 5\n  params: [hs]\n"
    )
    profile = load_profile(own)
    for target, kind in (("/cong-dan/vao", "login"), ("/xem?hs=abc", "record"), ("/tin/123", None)):
        e = parse_line(line("203.0.113.1", "GET", target, 200, 0).encode(), source="t", position=0, profile=profile)
        assert e.get("labels", {}).get("request_kind") == kind, target


def _with_user(text: str, user: str) -> str:
    ip, rest = text.split(" - - ", 1)
    return f"{ip} - {user} {rest}"


@pytest.mark.parametrize("layout", ["A", "B"])
def test_per_account_rules_where_the_log_names_the_account(tmp_path: Path, layout: str) -> None:
    """Accounts from a login's query string (GET form) and from $remote_user (HTTP authentication)."""
    login, admin = LAYOUTS[layout]["login"], LAYOUTS[layout]["admin"]
    lines = []
    # one account guessed from rotating addresses (each under the per-address threshold), then taken over
    for i in range(12):
        lines.append(line(f"198.51.100.{30 + i}", "GET", f"{login}?username=can.bo.07&password=x{i}", 403, i * 20))
    lines.append(line("198.51.100.99", "POST", f"{login}?username=can.bo.07", 302, 250))
    # spraying: one address, twelve accounts, one try each, slowly
    for i in range(12):
        target = f"{login}?user=u{i:02d}%40x.vn&password=Spring2026"
        lines.append(line("203.0.113.50", "GET", target, 401, 300 + i * 60))
    # HTTP authentication of an admin area guessed for one account ($remote_user)
    for i in range(15):
        lines.append(_with_user(line("203.0.113.60", "GET", admin, 401, 1000 + i * 5), "admin"))
    # hard negatives: an officer mistyping twice, an authenticated officer at work
    lines += [line("14.161.5.5", "GET", f"{login}?username=can.bo.08", 403, 1200 + i) for i in range(2)]
    lines += [_with_user(line("10.20.1.5", "GET", admin, 200, 1300 + i * 30), "can.bo.09") for i in range(20)]
    log = tmp_path / "access.log"
    log.write_text("\n".join(sorted(lines, key=lambda text: text.split("[", 1)[1][:26])) + "\n")
    result = CliRunner().invoke(cli, ["detect", "--rules", str(RULES), str(log)])
    assert result.exit_code == 0, result.output
    found: dict[str, set[str]] = {}
    for text in result.stdout.splitlines():
        alert = json.loads(text)
        found.setdefault(alert["rule"]["title"], set()).add(alert["events"][-1].get("user", {}).get("name"))
    assert found["Password guessing against one portal account (from the access log)"] == {"can.bo.07", "admin"}
    assert found["One portal account refused from many addresses (from the access log)"] == {"can.bo.07"}
    assert len(found["Password spraying across portal accounts from one address (from the access log)"]) == 1
    assert found["Portal account accepted after refused logins (from the access log)"] == {"can.bo.07"}
    assert not any({"can.bo.08", "can.bo.09"} & users for users in found.values())
