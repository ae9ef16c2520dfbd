"""The engine agrees with pySigma's reference semantics, using the SQLite backend as an oracle.

A seeded generator writes Sigma rules covering the value modifiers and
condition forms, and events built from the same vocabulary (so that rules match
some events and not others). Each rule is converted to SQL by
``sigma.backends.sqlite`` and run over the events loaded into an SQLite table;
the engine evaluates the same rules over the same events through its full path
(prefilter included). The matched (rule, event) sets must be equal.

What the SQLite backend cannot express is tested against hand-written
expectations in ``test_engine_values.py`` instead: keyword (full-text)
detections (the backend refuses them), list-valued fields (no SQL column holds
a list), ``wide``/``utf16*`` without base64 (the NUL bytes they produce end
SQLite's LIKE early), CIDR ranges not on an octet boundary (the backend expands
them into ``LIKE`` alternatives without parentheses, so inside an ``AND`` they
bind wrongly), non-ASCII case folding (SQLite folds ASCII only).
"""

from __future__ import annotations

import base64
import random
import re
import sqlite3
from typing import Any

import pytest
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation

from sentinel.detect import Engine

TEXT_FIELDS = ["url.original", "url.query", "user_agent.original", "user.name", "http.request.method"]
NUM_FIELDS = ["http.response.status_code", "http.response.body.bytes"]
IP_FIELD = "source.ip"
BOOL_FIELD = "tls.established"
TS_FIELD = "@timestamp"
ALL_FIELDS = [*TEXT_FIELDS, *NUM_FIELDS, IP_FIELD, BOOL_FIELD, TS_FIELD]

WORDS = [
    "admin",
    "Login",
    "select",
    "UNION",
    "etc/passwd",
    "../",
    "%27",
    "a_b",
    "50%",
    "x*y",
    "q?z",
    "back\\slash",
    "wp-admin",
    "cmd",
    "-enc",
    "/enc",
    "\u2013enc",
    "Mozilla",
    "sqlmap",
    "O'Brien",
    "id=1",
    "dvc",
    "hoso",
    "GET",
    "post",
]
PLAIN_WORDS = [w for w in WORDS if "*" not in w and "?" not in w]  # base64 refuses wildcards
PLACEHOLDERS = {"admin_paths": ["/admin*", "*wp-admin*", "/x_y"], "agents": ["sqlmap*", "*nikto*"]}
STATUS = [200, 201, 301, 302, 400, 401, 403, 404, 500, 503]
IPS = ["10.0.0.1", "10.1.2.3", "192.168.1.20", "172.16.5.4", "203.0.113.7", "8.8.8.8", "2001:db8::1", "::1"]
CIDRS = ["10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24", "8.8.8.8/32", "172.16.0.0/16"]


def _b64_forms(word: str, rng: random.Random) -> str:
    pad = " " * rng.randint(0, 2)
    raw = (pad + word + "!").encode()
    choice = rng.randrange(4)
    if choice == 0:
        return base64.b64encode(word.encode()).decode()
    if choice == 1:
        return base64.b64encode(raw).decode()
    codec = ["utf-16le", "utf-16be"][choice - 2]
    return base64.b64encode((pad + word).encode(codec)).decode()


def _case(text: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.2:
        return text.upper()
    if r < 0.4:
        return text.lower()
    if r < 0.5:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    return text


def _text_value(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        w = rng.choice(WORDS)
        if rng.random() < 0.15:
            w = _b64_forms(w, rng)
        parts.append(_case(w, rng))
    seps = [" ", "/", "?", "=", "&", " -", "\n", ""]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(seps) + p
    return out


def make_events(rng: random.Random, n: int) -> list[dict[str, Any]]:
    events = []
    for i in range(n):
        ev: dict[str, Any] = {"event.id": f"e{i}"}
        for f in TEXT_FIELDS:
            r = rng.random()
            if r < 0.1:
                continue
            ev[f] = "" if r < 0.13 else _text_value(rng)
        present = [f for f in TEXT_FIELDS if f in ev]
        if rng.random() < 0.2 and len(present) > 1:  # copies make fieldref comparisons come true
            a, b = rng.sample(present, 2)
            ev[b] = _case(ev[a], rng) + (rng.choice(["", "/tail"]) if rng.random() < 0.5 else "")
        for f in NUM_FIELDS:
            if rng.random() < 0.9:
                ev[f] = rng.choice(STATUS) if f.endswith("status_code") else rng.randint(0, 5000)
        if rng.random() < 0.9:
            ev[IP_FIELD] = rng.choice(IPS)
        r = rng.random()
        if r < 0.4:
            ev[BOOL_FIELD] = True
        elif r < 0.7:
            ev[BOOL_FIELD] = False
        elif r < 0.8:
            ev[BOOL_FIELD] = rng.choice(["true", "false"])
        if rng.random() < 0.95:
            ev[TS_FIELD] = (
                f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
                f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
            )
        events.append(ev)
    return events


# --- rule generation --------------------------------------------------------------------------


def _wild(word: str, rng: random.Random) -> str:
    """A Sigma string built from ``word``: specials escaped, maybe wildcards inserted."""
    escaped = "".join("\\" + c if c in "*?" else c for c in word)
    escaped = escaped.replace("\\\\", "\\\\\\\\") if "\\\\" in escaped else escaped
    r = rng.random()
    if r < 0.15 and len(word) > 2:
        k = rng.randrange(1, len(word) - 1)
        head = "".join("\\" + c if c in "*?" else c for c in word[:k])
        tail = "".join("\\" + c if c in "*?" else c for c in word[k + 1 :])
        return head + rng.choice("*?") + tail
    if r < 0.25:
        return "*" + escaped
    if r < 0.35:
        return escaped + "*"
    return escaped


def _sub(word: str, rng: random.Random) -> str:
    if len(word) <= 3 or rng.random() < 0.5:
        return word
    i = rng.randrange(0, len(word) - 2)
    return word[i : i + rng.randint(3, len(word) - i)]


def _regex(rng: random.Random) -> str:
    w = re.escape(rng.choice(WORDS))
    forms = [
        w,
        "^" + w,
        w + "$",
        f"(?:{w}|{re.escape(rng.choice(WORDS))})",
        w[:2] + ".{0,6}" + w[-2:] if len(w) > 4 else w,
        r"\d{3}",
        r"^[a-z]+\s",
        "a.b",
        r"n\.{2}",
        r"^.*\n.*$",
    ]
    return rng.choice(forms)


def _text_item(field: str, rng: random.Random) -> tuple[str, Any]:
    word = rng.choice(WORDS)
    kind = rng.randrange(22)
    many = [_wild(_sub(rng.choice(WORDS), rng), rng) for _ in range(rng.randint(2, 3))]
    if kind == 0:
        return field, _wild(word, rng)
    if kind == 1:
        return f"{field}|contains", _wild(_sub(word, rng), rng)
    if kind == 2:
        return f"{field}|startswith", _wild(_sub(word, rng), rng)
    if kind == 3:
        return f"{field}|endswith", _wild(_sub(word, rng), rng)
    if kind == 4:
        return f"{field}|contains|all", many
    if kind == 5:
        return f"{field}|contains", many
    if kind == 6:
        return f"{field}|cased", _wild(_case(word, rng), rng)
    if kind == 7:
        return f"{field}|contains|cased", _wild(_case(_sub(word, rng), rng), rng)
    if kind == 8:
        flags = rng.choice(["", "|i", "|m", "|s", "|i|m", "|ignorecase|dotall"])
        return f"{field}|re{flags}", _regex(rng)
    if kind == 9:
        return f"{field}|windash|contains", rng.choice(["-enc", " -enc", "/enc", "cmd -enc"])
    if kind == 10:
        return f"{field}|base64offset|contains", rng.choice(PLAIN_WORDS)
    if kind == 11:
        return f"{field}|base64", rng.choice(PLAIN_WORDS)
    if kind == 12:
        enc = rng.choice(["utf16le", "wide", "utf16be"])
        return f"{field}|{enc}|base64offset|contains", rng.choice(PLAIN_WORDS)
    if kind == 13:
        return f"{field}|expand", rng.choice(["%admin_paths%", "%agents%"])
    if kind == 14:
        other = rng.choice([f for f in TEXT_FIELDS if f != field])
        mod = rng.choice(["", "|startswith", "|endswith", "|contains"])
        return f"{field}|fieldref{mod}", other
    if kind == 15:
        return f"{field}|exists", rng.random() < 0.5
    if kind == 16:
        return field, None
    if kind == 17:
        return f"{field}|neq", _wild(word, rng)
    if kind == 18:
        return f"{field}|contains|neq", _sub(word, rng)
    if kind == 19:
        return field, ""
    if kind == 20:
        return f"{field}|contains", "*"
    return field, many


def _num_item(field: str, rng: random.Random) -> tuple[str, Any]:
    n = rng.choice(STATUS) if field.endswith("status_code") else rng.randint(0, 5000)
    kind = rng.randrange(8)
    if kind == 0:
        return field, n
    if kind == 1:
        return f"{field}|{rng.choice(['lt', 'lte', 'gt', 'gte'])}", n
    if kind == 2:
        return f"{field}|neq", n
    if kind == 3:
        return f"{field}|startswith", str(n)[:1]
    if kind == 4:
        return field, [rng.choice(STATUS), rng.choice(STATUS)]
    if kind == 5:
        return field, str(n)
    if kind == 6:
        return f"{field}|exists", rng.random() < 0.5
    return f"{field}|contains", str(n)[1:] or "0"


def _other_item(rng: random.Random) -> tuple[str, Any]:
    kind = rng.randrange(7)
    if kind == 0:
        return f"{IP_FIELD}|cidr", rng.choice(CIDRS)
    if kind == 1:
        return f"{IP_FIELD}|cidr", rng.sample(CIDRS, 2)
    if kind == 2:
        return IP_FIELD, rng.choice(IPS)
    if kind == 3:
        return f"{IP_FIELD}|startswith", rng.choice(["10.", "192.", "2001:"])
    if kind == 4:
        return BOOL_FIELD, rng.random() < 0.5
    part = rng.choice(["minute", "hour", "day", "week", "month", "year"])
    limit = {"minute": 59, "hour": 23, "day": 28, "week": 52, "month": 12, "year": 2026}[part]
    return f"{TS_FIELD}|{part}", 2026 if part == "year" else rng.randint(0, limit)


def _detection(rng: random.Random) -> dict[str, Any] | list[dict[str, Any]]:
    def mapping() -> dict[str, Any]:
        items: dict[str, Any] = {}
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            if r < 0.6:
                key, value = _text_item(rng.choice(TEXT_FIELDS), rng)
            elif r < 0.8:
                key, value = _num_item(rng.choice(NUM_FIELDS), rng)
            else:
                key, value = _other_item(rng)
            items.setdefault(key, value)
        return items

    if rng.random() < 0.2:
        return [mapping(), mapping()]
    return mapping()


CONDITIONS = [
    "sel1",
    "sel1 and sel2",
    "sel1 or sel2",
    "sel1 and not filter1",
    "not sel1",
    "1 of sel*",
    "all of sel*",
    "1 of them",
    "all of them",
    "(sel1 or sel2) and not filter1",
    "sel1 and (sel2 or not filter1)",
    "not (sel1 and sel2) and filter1",
    "1 of sel* and not 1 of filter*",
]


def make_rule(rng: random.Random, i: int) -> dict[str, Any]:
    condition = rng.choice(CONDITIONS)
    detection: dict[str, Any] = {"condition": condition}
    for name in ("sel1", "sel2", "sel3", "filter1"):
        if name in condition or "them" in condition or name[:-1] + "*" in condition:
            detection[name] = _detection(rng)
    return {
        "title": f"generated {i}",
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "status": "test",
        "level": "medium",
        "logsource": {"product": "generated"},
        "detection": detection,
    }


# --- the oracle ---------------------------------------------------------------------------------


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def sqlite_matches(events: list[dict[str, Any]], queries: dict[str, str]) -> dict[str, set[str]]:
    conn = sqlite3.connect(":memory:")
    conn.create_function("REGEXP", 2, _regexp, deterministic=True)
    cols = ", ".join(
        f'"{f}" NUMERIC' if f in NUM_FIELDS or f == BOOL_FIELD else f'"{f}" TEXT COLLATE NOCASE'
        for f in ["event.id", *ALL_FIELDS]
    )
    conn.execute(f"CREATE TABLE logs ({cols})")
    names = ["event.id", *ALL_FIELDS]
    conn.executemany(
        f"INSERT INTO logs VALUES ({', '.join('?' * len(names))})",
        [tuple(ev.get(n) for n in names) for ev in events],
    )
    out = {}
    for rid, sql in queries.items():
        out[rid] = {row[0] for row in conn.execute(sql.replace("SELECT *", 'SELECT "event.id"', 1))}
    conn.close()
    return out


def engine_matches(collection: SigmaCollection, events: list[dict[str, Any]]) -> tuple[dict[str, set[str]], Engine]:
    engine = Engine.from_collection(collection, pipeline="none", placeholders=PLACEHOLDERS)
    found: dict[str, set[str]] = {r.id: set() for r in engine.rules}
    for alert in engine.process(events):
        found[alert.rule.id].update(alert.event_ids)
    return found, engine


def convert(collection: SigmaCollection) -> tuple[dict[str, str], dict[str, str]]:
    pipeline = ProcessingPipeline(items=[ProcessingItem(ValueListPlaceholderTransformation())], vars=PLACEHOLDERS)
    backend = sqliteBackend(pipeline)
    queries, refused = {}, {}
    for rule in collection.rules:
        try:
            (sql,) = backend.convert_rule(rule)
            queries[str(rule.id)] = sql
        except Exception as exc:  # the oracle's own limits are counted, not hidden
            refused[str(rule.id)] = f"{type(exc).__name__}: {exc}"
    return queries, refused


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_agrees_with_sqlite_backend(seed: int) -> None:
    rng = random.Random(seed)
    events = make_events(rng, 300)
    rule_dicts = [make_rule(rng, seed * 10_000 + i) for i in range(250)]
    collection = SigmaCollection.from_dicts(rule_dicts)
    queries, refused = convert(SigmaCollection.from_dicts(rule_dicts))
    assert not refused, refused
    found, engine = engine_matches(collection, events)
    assert engine.problems == []
    expected = sqlite_matches(events, queries)
    by_id = {d["id"]: d for d in rule_dicts}
    mismatches = [
        (rid, by_id[rid]["detection"], sorted(expected[rid] - found[rid])[:3], sorted(found[rid] - expected[rid])[:3])
        for rid in queries
        if expected[rid] != found[rid]
    ]
    assert not mismatches, mismatches[:3]
    # the corpus is not degenerate: rules match some events and miss others
    sizes = [len(v) for v in expected.values()]
    assert sum(0 < s < len(events) for s in sizes) > len(sizes) // 3
    # every value modifier and condition form was generated
    text = repr(rule_dicts)
    for mod in ("contains", "startswith", "endswith", "all", "re", "cidr", "base64offset", "base64'", "windash"):
        assert f"|{mod.rstrip(chr(39))}" in text
    for mod in ("utf16le", "utf16be", "wide", "expand", "fieldref", "exists", "neq", "cased", "lt", "gte", "hour"):
        assert f"|{mod}" in text


def test_prefilter_never_hides_a_match() -> None:
    """Candidates from the literal index include every rule that matches (checked rule by rule)."""
    rng = random.Random(7)
    events = make_events(rng, 200)
    collection = SigmaCollection.from_dicts([make_rule(rng, i) for i in range(300)])
    engine = Engine.from_collection(collection, pipeline="none", placeholders=PLACEHOLDERS)
    assert engine._all.stats()["indexed"] > len(engine.rules) // 2  # the index is actually used on this corpus
    from sentinel.detect.view import EventView
    from sentinel.ecs import flatten

    prefilter = engine._all
    for ev in events:
        flat = flatten(ev)
        cands = set(prefilter.candidates(EventView(ev)))
        truth = {i for i, r in enumerate(engine.rules) if r.matcher(flat, {})}
        assert truth <= cands
