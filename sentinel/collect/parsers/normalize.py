"""Decoded copies of request fields, so rules match what the application sees, not how it was encoded.

Attackers encode payloads to slip past literal matching: ``%2D%64+%61%6C%6C%6F%77...``
is ``-d allow...`` to PHP, ``%252e%252e%252f`` is ``../`` after the second decoding,
``%u003c`` and ``\\u003c`` are ``<`` to IIS and to JavaScript, and nginx writes bytes
it will not print as ``\\xNN``. :func:`normalized_fields` decodes the request target,
the user agent and the referrer (percent-decoding repeated until stable, ``+`` as a
space in the query, ``%uXXXX``/``\\uXXXX``/``\\xNN`` escapes) into ``normalized.url``,
``normalized.user_agent`` and ``normalized.referrer``, only when decoding changes
something: the raw fields stay as they were, as evidence, and rules match either.
Other logged headers (``X-Forwarded-For``, ``X-Api-Version``, cookies, custom ones)
are kept under ``http.request.headers.<name>`` and their decoded values listed in
``normalized.headers``, which rules read for injection "in any header".
Case is left alone (Sigma matching is case-insensitive; a folded copy of a citizen's
name would escape the personal-data protection, which replaces exact values).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, unquote_plus

from sentinel.collect.parsers.common import remembered

# Decoding rounds: enough for double and triple encoding; a fixed bound so crafted input cannot loop.
MAX_ROUNDS = 3
_ESCAPE = re.compile(r"%u([0-9a-fA-F]{4})|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")


def _escapes(m: re.Match[str]) -> str:
    code = m.group(1) or m.group(2) or m.group(3)
    char = chr(int(code, 16))
    # a lone surrogate cannot be stored as UTF-8: keep the escape as written
    return m.group(0) if 0xD800 <= ord(char) <= 0xDFFF else char


def decode(text: str, *, query: bool = False) -> str:
    """``text`` decoded until stable (at most :data:`MAX_ROUNDS` rounds); ``query``: ``+`` is a space."""
    if "%" not in text and "\\" not in text and not (query and "+" in text):
        return text
    return _decoded(text, query)


@remembered(4096)
def _decoded(text: str, query: bool) -> str:
    """:func:`decode` of a value holding escapes; remembered: user agents and referrers recur line after line."""
    for _ in range(MAX_ROUNDS):
        new = _ESCAPE.sub(_escapes, text)
        new = unquote_plus(new, errors="backslashreplace") if query else unquote(new, errors="backslashreplace")
        if new == text:
            break
        text = new
    return text


@remembered(4096)
def decode_target(target: str) -> str:
    """A request target (path and query) decoded: ``+`` is a space in the query only.

    Remembered whole (paths, searches and referrers recur), so a repeated target costs one lookup."""
    path, qmark, query = target.partition("?")
    return decode(path) + qmark + decode(query, query=True)


# Logged request headers (and cookies) under their own names: ``$http_x_api_version`` -> ``x_api_version``.
# Names that are headers without nginx's ``http_`` prefix; any ``x_...`` name is one too.
HEADER_NAMES = frozenset(
    {
        "cookie",
        "authorization",
        "origin",
        "accept",
        "accept_language",
        "accept_encoding",
        "content_type",
        "content_length",
        "forwarded",
        "via",
        "true_client_ip",
        "client_ip",
        "cf_connecting_ip",
        "api_version",
    }
)


def header_name(key: str) -> str | None:
    """The header a logged field holds (``http_x_api_version``, ``X-Api-Version``, ``cookie``), or None."""
    name = key.lower().replace("-", "_")
    name = name.removeprefix("http_")
    if name in ("user_agent", "referer", "referrer", "host"):
        return None  # ECS fields of their own (user_agent.original, http.request.referrer, url.domain)
    if name in HEADER_NAMES or name.startswith("x_") or key.lower().startswith("http_"):
        return name
    return None


def normalized_headers(values: Iterable[str]) -> list[str]:
    """``normalized.headers``: every other value the client may have sent, decoded, each once.

    Unlike the other ``normalized`` fields it is written whether or not decoding changes a value:
    headers have no one ECS field, so rules that look for an exploit in "any header" read this list.
    """
    out: dict[str, None] = {}
    for value in values:
        if value and value != "-":
            out[decode(value)] = None
    return list(out)


def normalized_fields(target: str | None, user_agent: str | None, referrer: str | None) -> dict[str, Any]:
    """The ``normalized`` object of an access event: decoded values that differ from the raw ones."""
    out: dict[str, Any] = {}
    if target and (decoded := decode_target(target)) != target:
        out["url"] = decoded
    if user_agent and (decoded := decode(user_agent)) != user_agent:
        out["user_agent"] = decoded
    if referrer and (decoded := decode_target(referrer)) != referrer:
        out["referrer"] = decoded
    return out
