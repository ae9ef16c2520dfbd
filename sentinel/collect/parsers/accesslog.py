"""nginx / Apache access logs (common, combined, and combined with timing/upstream fields).

The portal's front ends log ``combined`` plus, on some hosts, the forwarded-for
chain, request time and upstream fields, either as ``key=value`` pairs
(``rt=0.012 urt="0.010" ua="10.0.0.5:8080" us="200"``) or as bare values
(``"203.0.113.9" 0.012 0.010``). Both variants are read by one parser.
"""

from __future__ import annotations

import re
import socket
from datetime import datetime, timedelta, timezone
from typing import Any

from sentinel.collect.parsers.common import ParseError, remembered
from sentinel.collect.parsers.normalize import header_name, normalized_fields, normalized_headers
from sentinel.ecs import format_ts

_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a quoted string, "unrolled" so each character is looked at once
LINE = re.compile(
    r"^(\S+) (\S+) (\S+) \[([^\]]{1,64})\] " + _Q + r" (\d{3}|-) (\d+|-)(?: " + _Q + " " + _Q + r")?(.*)$",
    re.DOTALL,
)
TAIL_TOKEN = re.compile(r"\s*(?:([A-Za-z_]\w*)=)?(?:" + _Q + r"|(\S+))")
KEYS = {
    "rt": "request_time",
    "request_time": "request_time",
    "uct": "upstream_connect_time",
    "upstream_connect_time": "upstream_connect_time",
    "uht": "upstream_header_time",
    "upstream_header_time": "upstream_header_time",
    "urt": "upstream_response_time",
    "upstream_response_time": "upstream_response_time",
    "ua": "upstream_addr",
    "upstream_addr": "upstream_addr",
    "us": "upstream_status",
    "upstream_status": "upstream_status",
    "rid": "request_id",
    "request_id": "request_id",
    "xff": "x_forwarded_for",
    "host": "host",
}
_FLOAT = re.compile(r"^\d+(?:\.\d+)?$")
_HOSTPORT = re.compile(r"^[\w.:\[\]-]+:\d{1,5}$")


MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}


# The seconds a valid access-log time may show ("00" to "59").
_SECONDS = frozenset(f"{s:02d}" for s in range(60))


def access_time(text: str) -> str:
    """``10/Oct/2026:13:55:36 +0700`` -> ECS UTC time.

    The lines of a busy log each have their own second but share their minute, and a zone offset is
    whole minutes, so the seconds read the same in UTC: the minute is converted once (:func:`_utc_minute`)
    and the seconds are copied. Anything else (a time that is not one) goes through :func:`_utc_time`."""
    if len(text) == 26 and text[17] == ":" and (seconds := text[18:20]) in _SECONDS:
        try:
            return _utc_minute(text[:18] + "00" + text[20:]) + seconds + ".000Z"
        except ParseError:
            pass  # raised again below, naming the time as written
    return _utc_time(text)


@remembered(1024)
def _utc_minute(text: str) -> str:
    """The UTC minute of a local time at second 00, ``2026-10-10T06:55:`` (remembered: lines share their minute)."""
    return _utc_time(text)[:17]


def _utc_time(text: str) -> str:
    """Hand-parsed (strptime costs more than the rest of the line)."""
    try:
        if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[11] != ":" or text[21] not in "+-":
            raise ValueError
        offset = (int(text[22:24]) * 60 + int(text[24:26])) * (1 if text[21] == "+" else -1)
        local = datetime(
            int(text[7:11]),
            MONTHS[text[3:6]],
            int(text[0:2]),
            int(text[12:14]),
            int(text[15:17]),
            int(text[18:20]),
            tzinfo=timezone(timedelta(minutes=offset)),
        )
        return format_ts(local)
    except (ValueError, KeyError):
        raise ParseError(f"bad access-log time [{text}] (expected e.g. 10/Oct/2026:13:55:36 +0700)") from None


def _is_ip(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: an embedded NUL byte
        return False
    return True


def _unescape(s: str) -> str:
    # nginx escapes " and \ and non-printables as \xNN; undo only the quote/backslash escapes.
    return s.replace('\\"', '"').replace("\\\\", "\\") if "\\" in s else s


_KV = r"([A-Za-z_]\w*)=(?:" + _Q + r"|(\S+))"
KV_TOKEN = re.compile(_KV)
# A tail of key=value pairs only, separated by blanks (linear: a bare value runs to the next blank).
KV_TAIL = re.compile(f"\\s*{_KV}(?:\\s+{_KV})*\\s*")


def _tail_fields(tail: str) -> dict[str, str]:
    """Read the optional fields after the user agent into named values."""
    if KV_TAIL.fullmatch(tail):  # every token named (the portal's usual form): one scan, no guessing
        return {KEYS.get(k, k): bare or _unescape(quoted) for k, quoted, bare in KV_TOKEN.findall(tail)}
    out: dict[str, str] = {}
    bare_numbers = 0
    pos = 0
    tail = tail.rstrip()
    while pos < len(tail):
        m = TAIL_TOKEN.match(tail, pos)
        if not m or m.end() == pos:
            raise ParseError(f"unreadable text after the user agent: {tail[pos : pos + 80]!r}")
        pos = m.end()
        key, quoted, bare = m.group(1), m.group(2), m.group(3)
        value = _unescape(quoted) if quoted is not None else bare
        if key:
            out[KEYS.get(key, key)] = value
        elif quoted is not None and "x_forwarded_for" not in out:
            out["x_forwarded_for"] = value
        elif _FLOAT.match(value) and bare_numbers < 2:
            out["request_time" if bare_numbers == 0 else "upstream_response_time"] = value
            bare_numbers += 1
        elif _HOSTPORT.match(value) and "upstream_addr" not in out:
            out["upstream_addr"] = value
        elif value.isdigit() and len(value) == 3 and "upstream_status" not in out:
            out["upstream_status"] = value
        else:
            out.setdefault("extra", "")
            out["extra"] = (out["extra"] + " " + value).strip()
    return out


def _seconds(value: str | None) -> float | None:
    # upstream times may list several tries ("0.010, 0.020") or "-"
    if not value or value == "-":
        return None
    try:
        return float(value)  # the usual single time
    except ValueError:
        pass
    try:
        return sum(float(v) for v in value.replace(":", ",").split(",") if v.strip() and v.strip() != "-")
    except ValueError:
        return None


def parse_access_line(line: str) -> dict[str, Any]:
    """Parse one access-log line into ECS fields; raise :class:`ParseError` if it is not one."""
    m = LINE.match(line)
    if not m:
        raise ParseError("not an access-log line (expected nginx/Apache common or combined format)")
    addr, _ident, user, ts, request, status, size, referrer, agent, tail = m.groups()
    ev: dict[str, Any] = {"category": ["web"], "type": ["access"]}
    req: dict[str, Any] = {}
    resp: dict[str, Any] = {}
    http: dict[str, Any] = {"request": req, "response": resp}
    method, version, target, url_parts = _request(request)
    if method is not None:
        req["method"] = method
    if version is not None:
        http["version"] = version
    event: dict[str, Any] = {
        "@timestamp": access_time(ts),
        "event": ev,
        "http": http,
        "source": {"ip": addr, "address": addr} if _is_ip(addr) else {"address": addr},
    }
    if url_parts is not None:
        path, query, extension = url_parts
        url: dict[str, Any] = {"original": target, "path": path}
        if query is not None:
            url["query"] = query
        if extension is not None:
            url["extension"] = extension
        event["url"] = url
    if user != "-":
        event["user"] = {"name": user}
    if status != "-":
        code = int(status)
        resp["status_code"] = code
        ev["outcome"] = "failure" if code >= 400 else "success"
    if size != "-":
        resp["body"] = {"bytes": int(size)}
    if referrer not in (None, "-", ""):
        referrer = req["referrer"] = _unescape(referrer)
    else:
        referrer = None
    if agent not in (None, "-", ""):
        agent = _unescape(agent)
        event["user_agent"] = {"original": agent}
    else:
        agent = None
    if tail and not tail.isspace():
        _apply_tail(event, _tail_fields(tail))
    normalized = normalized_fields(target or None, agent, referrer)
    if normalized:
        event.setdefault("normalized", {}).update(normalized)
    return event


_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")
# "METHOD target" without a protocol, or with blanks inside the target: a token of capitals, then the rest.
_LOOSE_REQUEST = re.compile(r"([A-Z][A-Z_-]{1,19}) (\S.*?)(?: HTTP/(\d(?:\.\d)?))?", re.DOTALL)


@remembered(4096)
def _request(request: str) -> tuple[str | None, str | None, str, tuple[str, str | None, str | None] | None]:
    """Method, HTTP version, target ("" when the client sent none) and URL parts of a logged request line.

    Remembered: pages, static files and searches are asked again and again, by every client."""
    request = _unescape(request)
    method = version = None
    parts = request.split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/"):
        method, target, proto = parts
        version = proto[5:]
    elif (loose := _LOOSE_REQUEST.fullmatch(request)) is not None:
        # no protocol (cut at the server's line limit, HTTP/0.9) or blanks in the target: still a method and a target
        method, target, version = loose.group(1), loose.group(2), loose.group(3) or None
    else:
        target = request  # garbage requests (TLS to a plain port, scanners) are kept verbatim
    if target == "-":  # the client sent no request line (a timeout, a TLS handshake on a plain port)
        return method, version, "", None
    return method, version, target, _url_parts(target)


def _url_parts(target: str) -> tuple[str, str | None, str | None]:
    """Path, query (None without a ``?``) and extension (None unless plausible) of a request target."""
    path, qmark, query = target.partition("?")
    # the last segment's suffix when it is a plausible extension ("/a.php", not "/v1.2/x" or "/a.b;c=d")
    ext = _EXTENSION.search(path[path.rfind("/") + 1 :])
    return path, query if qmark else None, ext.group(1).lower() if ext and ext.start() > 0 else None


_UPSTREAM_TIMES = (
    ("upstream_connect_time", "connect_time"),
    ("upstream_header_time", "header_time"),
    ("upstream_response_time", "response_time"),
)


def _apply_tail(event: dict[str, Any], extra: dict[str, str]) -> None:
    rt = _seconds(extra.pop("request_time", None))
    if rt is not None:
        event["event"]["duration"] = int(rt * 1e9)
    if rid := extra.pop("request_id", None):
        event["http"]["request"]["id"] = rid
    nginx: dict[str, Any] = {}
    xff = extra.pop("x_forwarded_for", None)
    if xff and xff != "-":
        nginx["remote_ip_list"] = [ip.strip() for ip in xff.split(",") if ip.strip()]
    upstream: dict[str, Any] = {}
    for key, name in _UPSTREAM_TIMES:
        secs = _seconds(extra.pop(key, None))
        if secs is not None:
            upstream[name] = secs
    if (addr := extra.pop("upstream_addr", None)) and addr != "-":
        upstream["address"] = addr
    if (st := extra.pop("upstream_status", None)) and st.isdigit():
        upstream["status_code"] = int(st)
    if upstream:
        nginx["upstream"] = upstream
    if host := extra.pop("host", None):
        event.setdefault("url", {})["domain"] = host
    headers: dict[str, str] = {}
    for key in [k for k in extra if k != "extra"] if extra else ():  # the portal's usual tail has none left
        if (name := header_name(key)) is not None:
            headers[name] = extra.pop(key)
        elif key.lower().startswith("cookie_"):  # nginx's $cookie_NAME: one cookie's value
            cookie = f"{key[7:]}={extra.pop(key)}"
            headers["cookie"] = f"{headers['cookie']}; {cookie}" if "cookie" in headers else cookie
    if headers:
        event["http"]["request"]["headers"] = headers
    if extra:
        nginx["extra"] = extra
    if nginx:
        event["nginx"] = {"access": nginx}
    # what else the client may have sent (named headers, unnamed quoted values, unknown fields), for the rules
    if xff or headers or extra:
        sent = normalized_headers([*([xff] if xff else []), *headers.values(), *extra.values()])
        if sent:
            event.setdefault("normalized", {})["headers"] = sent
