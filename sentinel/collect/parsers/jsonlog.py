"""JSON-lines logs: application logs of the portal, and lines that are already ECS.

An ECS line (it has ``@timestamp`` and an ``ecs``/``event`` object or dotted
``event.*`` keys) is kept as it is, with dotted keys nested. Any other JSON
object is an application log: well-known keys are mapped to ECS and the rest is
kept under ``app`` so no field is lost.
"""

from __future__ import annotations

from typing import Any

import orjson

from sentinel import ecs
from sentinel.collect.parsers.accesslog import access_time
from sentinel.collect.parsers.common import ParseError
from sentinel.collect.parsers.normalize import header_name, normalized_fields, normalized_headers

TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "datetime", "thoi_gian", "time_iso8601", "time_local")
# app-log key (lower case) -> ECS field
APP_FIELDS = {
    "level": "log.level",
    "severity": "log.level",
    "lvl": "log.level",
    "msg": "message",
    "message": "message",
    "logger": "log.logger",
    "service": "service.name",
    "user": "user.name",
    "username": "user.name",
    "user_name": "user.name",
    "userid": "user.id",
    "role": "user.roles",
    "roles": "user.roles",
    "user_id": "user.id",
    "ip": "source.ip",
    "client_ip": "source.ip",
    "clientip": "source.ip",
    "remote_addr": "source.ip",
    "src_ip": "source.ip",
    "country": "source.geo.country_iso_code",
    "method": "http.request.method",
    "path": "url.path",
    "url": "url.original",
    "uri": "url.original",
    "status": "http.response.status_code",
    "status_code": "http.response.status_code",
    "bytes": "http.response.body.bytes",
    "user_agent": "user_agent.original",
    # nginx/Apache access logs written as JSON (log_format ... escape=json): the variables' names
    "remote_user": "user.name",
    "request_method": "http.request.method",
    "request_uri": "url.original",
    "args": "url.query",
    "query_string": "url.query",
    "http_user_agent": "user_agent.original",
    "http_referer": "http.request.referrer",
    "http_referrer": "http.request.referrer",
    "referer": "http.request.referrer",
    "referrer": "http.request.referrer",
    "body_bytes_sent": "http.response.body.bytes",
    "host": "url.domain",
    "server_name": "url.domain",
    "action": "event.action",
    "outcome": "event.outcome",
    "result": "event.outcome",
    "trace_id": "trace.id",
    "request_id": "http.request.id",
    "province": "labels.province",
    "commune": "labels.commune",
}
OUTCOMES = {
    "success": "success",
    "ok": "success",
    "failure": "failure",
    "fail": "failure",
    "failed": "failure",
    "error": "failure",
    "denied": "failure",
    "unknown": "unknown",
}
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
AUTH_ACTIONS = ("login", "logon", "signin", "sign_in", "dang_nhap", "authenticate", "otp")


def loads_object(text: str) -> dict[str, Any]:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ParseError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def is_ecs(obj: dict[str, Any]) -> bool:
    return "@timestamp" in obj and (
        isinstance(obj.get("ecs"), dict)
        or isinstance(obj.get("event"), dict)
        or any(k.startswith("event.") for k in obj)
    )


def _timestamp(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # epoch seconds or milliseconds
        return ecs.format_ts(ecs.parse_ts(value * 1000 if value < 1e11 else value))
    if isinstance(value, str) and len(value) == 26 and value[2:3] == "/":
        return access_time(value)  # nginx's $time_local: 10/Oct/2026:13:55:36 +0700
    try:
        return ecs.format_ts(ecs.parse_ts(value))
    except ValueError as exc:
        raise ParseError(str(exc)) from None


def parse_ecs_object(obj: dict[str, Any]) -> dict[str, Any]:
    event = ecs.unflatten(obj) if any("." in k for k in obj) else obj
    event["@timestamp"] = _timestamp(event["@timestamp"])
    if "event" in event and not isinstance(event["event"], dict):
        raise ParseError("event must be an object in an ECS document")
    return event


def parse_app_object(obj: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for key, value in obj.items():
        low = key.lower()
        if value == "-" and (low in APP_FIELDS or header_name(key)):
            continue  # nginx writes "-" for a variable with no value
        if low == "request" and isinstance(value, str) and "request" not in rest:
            _request_line(event, value)  # "$request": GET /path?q HTTP/1.1
        elif low in ("headers", "request_headers") and isinstance(value, dict):
            headers.update((str(k).lower().replace("-", "_"), str(v)) for k, v in value.items() if v not in (None, "-"))
        elif low not in APP_FIELDS and isinstance(value, str) and (name := header_name(key)) is not None:
            headers[name] = value
        elif low in TIME_KEYS and "@timestamp" not in event:
            event["@timestamp"] = _timestamp(value)
        elif low in APP_FIELDS and APP_FIELDS[low] == "user.roles" and isinstance(value, str | list):
            ecs.set_field(event, "user.roles", [str(v) for v in value] if isinstance(value, list) else [value])
        elif low in APP_FIELDS and value is not None and not isinstance(value, dict | list):
            target = APP_FIELDS[low]
            if target == "http.response.status_code" or target == "http.response.body.bytes":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    rest[key] = value
                    continue
            elif target == "event.outcome":
                value = OUTCOMES.get(str(value).lower(), "unknown")
            elif target == "http.request.method" and str(value).upper() not in HTTP_METHODS:
                rest["auth_method"] = str(value)  # login method (vneid, password+otp), not an HTTP verb
                continue
            else:
                value = str(value)
            ecs.set_field(event, target, value)
        else:
            rest[key] = value
    if rest:
        event["app"] = rest
    url = ecs.get_field(event, "url.original")
    if url and not ecs.get_field(event, "url.path"):
        path, _, query = url.partition("?")
        ecs.set_field(event, "url.path", path)
        if query:
            ecs.set_field(event, "url.query", query)
    if headers:
        ecs.set_field(event, "http.request.headers", headers)
    action = str(ecs.get_field(event, "event.action") or "").lower()
    if any(a in action for a in AUTH_ACTIONS):
        ecs.set_field(event, "event.category", ["authentication"])
        ecs.set_field(event, "event.type", ["start"])
    elif _is_access(event):
        _as_access(event, headers)
    return event


def _request_line(event: dict[str, Any], line: str) -> None:
    parts = line.split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/"):
        ecs.set_field(event, "http.request.method", parts[0])
        ecs.set_field(event, "url.original", parts[1])
        ecs.set_field(event, "http.version", parts[2][5:])
    elif line and line != "-":
        ecs.set_field(event, "url.original", line)


def _is_access(event: dict[str, Any]) -> bool:
    """A record of one HTTP request as a web server logs it: a method, a URL and a response status."""
    http = event.get("http", {})
    return (
        "method" in http.get("request", {})
        and "status_code" in http.get("response", {})
        and ("url" in event)
        and "category" not in event.get("event", {})
    )


def _as_access(event: dict[str, Any], headers: dict[str, str]) -> None:
    """A JSON access-log record gets what an access line gets: web categorisation and decoded request fields."""
    ev = event.setdefault("event", {})
    ev["category"] = ["web"]
    ev["type"] = ["access"]
    if "outcome" not in ev:
        ev["outcome"] = "failure" if event["http"]["response"]["status_code"] >= 400 else "success"
    url = event["url"]
    target = url.get("original") or (url.get("path", "") + ("?" + url["query"] if url.get("query") else ""))
    normalized = normalized_fields(
        target or None, ecs.get_field(event, "user_agent.original"), ecs.get_field(event, "http.request.referrer")
    )
    sent = normalized_headers(headers.values())
    if sent:
        normalized["headers"] = sent
    if normalized:
        event["normalized"] = normalized


def parse_json_line(text: str) -> dict[str, Any]:
    """Parse one JSON line: ECS kept as is, anything else mapped as an application log."""
    obj = loads_object(text)
    return parse_ecs_object(obj) if is_ecs(obj) else parse_app_object(obj)
