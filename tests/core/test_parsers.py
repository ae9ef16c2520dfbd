"""Parsers: the formats the portal front ends write, and hostile input that must never crash or vanish."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.collect.parsers import parse_line
from sentinel.collect.parsers.common import MAX_LINE_BYTES
from sentinel.ingest.stream import iter_lines

COMBINED = (
    b'203.0.113.7 - - [10/Oct/2026:13:55:36 +0700] "GET /dich-vu-cong/ho-so/tra-cuu?maHoSo=G01.21-261010-0001 HTTP/1.1"'
    b' 200 5120 "https://dichvucong.gov.vn/" "Mozilla/5.0 (X11)"'
)


def parse(raw: bytes, **kw):
    return parse_line(raw, source="/var/log/nginx/access.log", position=kw.pop("position", 0), **kw)


def test_combined_line_maps_to_ecs():
    e = parse(COMBINED + b"\n")
    assert e["event"]["kind"] == "event"
    assert e["event"]["dataset"] == "nginx.access"
    assert e["@timestamp"] == "2026-10-10T06:55:36.000Z"  # +0700 converted to UTC
    assert e["source"]["ip"] == "203.0.113.7"
    assert e["http"]["request"]["method"] == "GET"
    assert e["http"]["response"]["status_code"] == 200
    assert e["http"]["response"]["body"]["bytes"] == 5120
    assert e["url"]["path"] == "/dich-vu-cong/ho-so/tra-cuu"
    assert e["url"]["query"] == "maHoSo=G01.21-261010-0001"
    assert e["user_agent"]["original"] == "Mozilla/5.0 (X11)"
    assert e["http"]["request"]["referrer"] == "https://dichvucong.gov.vn/"
    assert e["event"]["original"] == COMBINED.decode()
    assert e["event"]["outcome"] == "success"


def test_common_format_and_user():
    e = parse(b'10.1.2.3 - cb.01.101 [10/Oct/2026:13:55:36 +0000] "POST /can-bo/dang-nhap HTTP/1.1" 401 0')
    assert e["user"]["name"] == "cb.01.101"
    assert e["event"]["outcome"] == "failure"
    assert "user_agent" not in e


def test_timing_and_upstream_variants():
    kv = parse(COMBINED + b' "1.2.3.4, 10.0.0.1" rt=0.012 uct="0.001" urt="0.010, 0.005" ua="10.0.0.5:8080" us="200"')
    assert kv["event"]["duration"] == 12_000_000
    up = kv["nginx"]["access"]["upstream"]
    assert up["address"] == "10.0.0.5:8080" and up["status_code"] == 200
    assert abs(up["response_time"] - 0.015) < 1e-9
    assert kv["nginx"]["access"]["remote_ip_list"] == ["1.2.3.4", "10.0.0.1"]
    bare = parse(COMBINED + b" 0.250 0.248")
    assert bare["event"]["duration"] == 250_000_000
    assert bare["nginx"]["access"]["upstream"]["response_time"] == 0.248


def test_key_value_tails_read_in_one_scan_agree_with_the_mixed_form():
    """A tail of key=value pairs only (the fast scan) gives what the same pairs give after an unkeyed value."""
    pairs = b' rt=0.012 uct="0.001" urt="0.010, 0.005" ua="10.0.0.5:8080" us="200" rid=abc host="a \\"b\\" c"'
    fast = parse(COMBINED + pairs)
    mixed = parse(COMBINED + b' "1.2.3.4"' + pairs)
    assert fast["nginx"]["access"]["upstream"] == mixed["nginx"]["access"]["upstream"]
    assert fast["event"]["duration"] == mixed["event"]["duration"] == 12_000_000
    assert fast["http"]["request"]["id"] == "abc"
    assert fast["url"]["domain"] == 'a "b" c'
    assert "remote_ip_list" not in fast["nginx"]["access"]
    empty = parse(COMBINED + b' us="" foo=bar')
    assert empty["nginx"]["access"]["extra"] == {"foo": "bar"}


def test_hostile_tails_are_read_in_linear_time_or_kept_as_errors():
    """Many '=' in one bare value, then a token that is not a pair: no backtracking blow-up, no loss."""
    e = parse(COMBINED + b" a=b" + b"=c" * 20_000 + b" x")
    assert e["event"]["kind"] == "event"
    assert e["nginx"]["access"]["extra"]["extra"] == "x"


def test_garbage_request_line_is_still_an_access_event():
    e = parse(b'198.51.100.2 - - [10/Oct/2026:01:00:00 +0700] "\\x16\\x03\\x01\\x02" 400 150 "-" "-"')
    assert e["event"]["kind"] == "event"
    assert e["http"]["response"]["status_code"] == 400
    assert "method" not in e["http"]["request"]


def test_malformed_line_is_kept_as_pipeline_error():
    raw = b"this is not a log line \xff\xfe \x00 \x1b[31m"
    e = parse(raw)
    assert e["event"]["kind"] == "pipeline_error"
    assert "access-log" in e["error"]["message"]
    assert e["event"]["original"].startswith("this is not a log line \\xff\\xfe \x00")
    assert e["event"]["id"]


def test_bad_time_is_a_parse_error_with_reason():
    e = parse(b'1.2.3.4 - - [99/Foo/2026:99:00:00 +0700] "GET / HTTP/1.1" 200 1 "-" "-"')
    assert e["event"]["kind"] == "pipeline_error"
    assert "time" in e["error"]["message"]


def test_json_app_log_maps_known_keys_and_keeps_the_rest():
    raw = (
        b'{"time":"2026-11-20T02:00:00Z","level":"warning","action":"login","outcome":"failure","user":"cd123",'
        b'"ip":"14.160.1.2","role":"can_bo_mot_cua","form":{"so_cccd":"001099012345"}}'
    )
    e = parse(raw)
    assert e["event"]["dataset"] == "portal.app"
    assert e["event"]["category"] == ["authentication"]
    assert e["event"]["outcome"] == "failure"
    assert e["user"]["name"] == "cd123" and e["source"]["ip"] == "14.160.1.2"
    assert e["app"]["form"]["so_cccd"] == "001099012345"
    assert e["user"]["roles"] == ["can_bo_mot_cua"]
    assert e["@timestamp"] == "2026-11-20T02:00:00.000Z"


def test_ecs_line_is_kept_and_dotted_keys_nested():
    raw = b'{"@timestamp":"2026-11-20T02:00:00+07:00","event.dataset":"fw","event.id":"abc","source.ip":"10.1.1.1"}'
    e = parse(raw)
    assert e["event"]["id"] == "abc"  # an id given by the producer is kept
    assert e["event"]["dataset"] == "fw"
    assert e["source"]["ip"] == "10.1.1.1"
    assert e["@timestamp"] == "2026-11-19T19:00:00.000Z"


def test_json_errors_are_kept():
    for raw in (b"{not json", b"[1, 2]", b'{"a": ' * 5000, b'{"time": "yesterday"}'):
        e = parse(raw)
        assert e["event"]["kind"] == "pipeline_error", raw[:20]
        assert e["error"]["message"]


def test_event_id_is_deterministic_and_positional():
    a = parse(COMBINED, position=0)
    b = parse(COMBINED, position=0)
    c = parse(COMBINED, position=len(COMBINED) + 1)
    assert a["event"]["id"] == b["event"]["id"] != c["event"]["id"]
    other = parse_line(COMBINED, source="/other/file", position=0)
    assert other["event"]["id"] != a["event"]["id"]


def test_one_megabyte_line_is_handled():
    long_url = b"/?" + b"A" * (MAX_LINE_BYTES - 200)
    raw = b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0700] "GET ' + long_url + b' HTTP/1.1" 200 1 "-" "-"'
    assert len(raw) < MAX_LINE_BYTES
    assert parse(raw)["url"]["original"] == long_url.decode()
    too_long = raw + b"B" * 300
    e = parse(too_long)
    assert e["event"]["kind"] == "pipeline_error" and "limit" in e["error"]["message"]
    assert len(e["event"]["original"]) <= 64 * 1024


def test_iter_lines_offsets_truncated_last_line_and_overlong_lines():
    data = b"one\n" + b"x" * (MAX_LINE_BYTES + 10) + b"\nthree\nfour-without-newline"
    lines = list(iter_lines(io.BytesIO(data)))
    assert [off for off, _ in lines] == [0, 4, 4 + MAX_LINE_BYTES + 11, 4 + MAX_LINE_BYTES + 17]
    assert lines[1][1] == b"x" * (MAX_LINE_BYTES + 1)  # cut at the limit: the parser keeps it as an error
    assert lines[2][1] == b"three\n"
    assert lines[3][1] == b"four-without-newline"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_one_event_never_an_exception(raw):
    e = parse_line(raw, source="fuzz", position=1, fmt="auto")
    assert e["event"]["id"]
    assert e["event"]["kind"] in ("event", "pipeline_error")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["access", "json"]))
def test_any_text_in_either_format(text, fmt):
    e = parse_line(text.encode("utf-8", "surrogatepass"), source="fuzz", position=0, fmt=fmt)
    assert e["event"]["kind"] in ("event", "pipeline_error")


def test_a_login_method_is_not_an_http_method():
    e = parse(b'{"ts": "2026-07-01T02:00:00Z", "action": "login", "method": "password+otp", "user": "can.bo.01"}')
    assert "http" not in e and e["app"]["auth_method"] == "password+otp"
    assert e["event"]["category"] == ["authentication"]
    web = parse(b'{"ts": "2026-07-01T02:00:00Z", "method": "post", "path": "/api/ho-so"}')
    assert web["http"]["request"]["method"] == "post"


def test_no_request_line_and_odd_extensions():
    timeout = parse(b'203.0.113.9 - - [01/Jul/2026:10:00:00 +0700] "-" 408 0 "-" "-"')
    assert timeout["event"]["kind"] == "event" and "url" not in timeout
    assert timeout["http"]["response"]["status_code"] == 408
    for target, ext in (("/a.PHP", "php"), ("/v1.2/ho-so", None), ("/a.b;jsessionid=1", None), ("/.env", None)):
        e = parse(f'203.0.113.9 - - [01/Jul/2026:10:00:00 +0700] "GET {target} HTTP/1.1" 200 0 "-" "-"'.encode())
        assert e["url"].get("extension") == ext, target


def test_a_request_line_without_protocol_keeps_its_method():
    """Apache cuts a request line at its limit (the WebDAV SEARCH overflow of 2003-2004), HTTP/0.9 sends none."""
    from sentinel.collect.parsers.accesslog import parse_access_line

    head = '203.0.113.9 - - [21/Apr/2004:12:45:13 -0400] "'
    cut = parse_access_line(head + 'SEARCH /\\x90\\x02\\xb1\\x02\\xb1" 414 349 "-" "-"')
    assert cut["http"]["request"]["method"] == "SEARCH" and cut["url"]["original"] == "/\\x90\\x02\\xb1\\x02\\xb1"
    spaced = parse_access_line(head + 'GET /a b.php HTTP/1.0" 404 1 "-" "-"')
    assert spaced["http"]["request"]["method"] == "GET" and spaced["http"]["version"] == "1.0"
    assert spaced["url"]["path"] == "/a b.php"
    tls = parse_access_line(head + '\\x16\\x03\\x01\\x02" 400 0 "-" "-"')
    assert "method" not in tls["http"]["request"]
