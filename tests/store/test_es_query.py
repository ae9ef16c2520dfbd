"""Event queries mapped to Elasticsearch: filters by field type, text, time; PIT + search_after paging."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel import ecs
from sentinel.store.base import EventQuery, InvalidQuery
from sentinel.store.elasticsearch import decode_cursor, encode_cursor
from sentinel.store.es_query import TEXT_SEARCH_FIELDS, _ip_prefix, _numeric_prefix, event_query
from sentinel.store.query import QuerySyntaxError, parse_query


def cidr_match(query: dict, ip: str) -> bool:
    if "match_none" in query:
        return False
    if "exists" in query:
        return True
    addr = int(ipaddress.ip_address(ip))
    for net in next(iter(query["terms"].values())):
        base, bits = net.split("/")
        mask = (0xFFFFFFFF << (32 - int(bits))) & 0xFFFFFFFF
        if addr & mask == int(ipaddress.ip_address(base)):
            return True
    return False


def range_match(query: dict, n: int) -> bool:
    for clause in query["bool"]["should"]:
        if "term" in clause and next(iter(clause["term"].values())) == n:
            return True
        if "range" in clause:
            r = next(iter(clause["range"].values()))
            if r["gte"] <= n < r["lt"]:
                return True
    return False


octet = st.integers(0, 255)


@settings(max_examples=300, deadline=None)
@given(st.tuples(octet, octet, octet, octet), st.integers(1, 14))
def test_ip_prefix_matches_exactly_what_a_text_prefix_would(ip, cut):
    """What the SQLite backend does with text (GLOB 'prefix*'), Elasticsearch does with CIDR blocks."""
    text = ".".join(map(str, ip))
    for probe in ("10.1.2.3", text, "192.168.10.200", "1.1.1.1"):
        prefix = text[:cut]
        assert cidr_match(_ip_prefix("source.ip", prefix), probe) == probe.startswith(prefix), (prefix, probe)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), st.integers(1, 6))
def test_numeric_prefix_matches_exactly_what_a_text_prefix_would(n, cut):
    prefix = str(n)[:cut]
    q = _numeric_prefix("http.response.status_code", prefix)
    for probe in (n, 404, 4, 40, 0, 499, 5000, int(prefix), int(prefix) * 10 + 7):
        assert range_match(q, probe) == str(probe).startswith(prefix), (prefix, probe)


def test_filters_follow_field_types():
    q = event_query(parse_query('http.response.status_code:404 url.original:/admin* message:"sai mật khẩu" a:(b OR c)'))
    (expr,) = q["bool"]["filter"]
    f = expr["bool"]["filter"]
    assert {"term": {"http.response.status_code": 404}} in f
    assert {"prefix": {"url.original": "/admin"}} in f
    assert {"match_phrase": {"message": "sai mật khẩu"}} in f
    assert {"bool": {"should": [{"term": {"a": "b"}}, {"term": {"a": "c"}}], "minimum_should_match": 1}} in f


def test_expressions_become_bool_clauses():
    q = event_query(parse_query("NOT (user.name:admin OR http.response.status_code:[500 TO *]) url.original:/a?c*"))
    (expr,) = q["bool"]["filter"]
    negated, wild = expr["bool"]["filter"]
    (inner,) = negated["bool"]["must_not"]
    assert inner["bool"]["should"][1] == {"range": {"http.response.status_code": {"gte": 500.0}}}
    assert wild == {"wildcard": {"url.original": {"value": "/a?c*"}}}
    with pytest.raises(QuerySyntaxError, match="number field"):
        event_query(parse_query("http.response.status_code:[a TO b]"))
    with pytest.raises(QuerySyntaxError, match="end of its value"):
        event_query(parse_query("source.ip:10.*.0.1"))


def test_impossible_values_match_nothing_instead_of_failing():
    for text in ("http.response.status_code:abc", "source.ip:not-an-ip", "@timestamp:yesterday"):
        assert event_query(parse_query(text))["bool"]["filter"] == [{"match_none": {}}]


def test_prefix_on_a_date_is_refused_with_advice():
    with pytest.raises(QuerySyntaxError, match="@timestamp is a date field"):
        event_query(parse_query("@timestamp:2026*"))


def test_text_words_must_each_appear_and_time_is_half_open():
    q = EventQuery(text="union  select", since=datetime(2026, 7, 1, tzinfo=UTC), until=datetime(2026, 7, 2, tzinfo=UTC))
    f = event_query(q)["bool"]["filter"]
    assert f[0] == {
        "range": {
            "@timestamp": {
                "format": "strict_date_optional_time",
                "gte": "2026-07-01T00:00:00.000Z",
                "lt": "2026-07-02T00:00:00.000Z",
            }
        }
    }
    assert [c["multi_match"]["query"] for c in f[1:]] == ["union", "select"]
    assert all(c["multi_match"]["type"] == "phrase" and c["multi_match"]["fields"] == TEXT_SEARCH_FIELDS for c in f[1:])
    assert event_query(EventQuery()) == {"match_all": {}}


def test_cursor_round_trip_and_garbage():
    c = encode_cursor("pit-1", [1751356800000, "abc", 42])
    assert decode_cursor(c) == ("pit-1", [1751356800000, "abc", 42])
    for bad in ("", "%%%", encode_cursor("p", [1])):
        with pytest.raises(InvalidQuery, match="cursor"):
            decode_cursor(bad)


def _events(n: int) -> list[dict]:
    return [
        {
            "@timestamp": f"2026-07-01T08:{i:02d}:00.000Z",
            "event": {"id": ecs.event_id("q", i, "x"), "dataset": "nginx.access"},
        }
        for i in range(n)
    ]


def test_pages_use_a_point_in_time_and_survive_its_expiry(sim, sim_store):
    sim_store.refresh = "wait_for"
    sim_store.writer.refresh = "wait_for"
    events = _events(7)
    sim_store.append_events(events)
    first = sim_store.search_events(EventQuery(limit=3))
    assert [e["@timestamp"][14:16] for e in first.events] == ["06", "05", "04"]
    assert len(sim.cluster.pits) == 1 and first.next_cursor
    sim.cluster.expire_pits()  # the keep_alive passed between pages: the next search gets a 404
    second = sim_store.search_events(EventQuery(limit=3, cursor=first.next_cursor))
    assert [e["@timestamp"][14:16] for e in second.events] == ["03", "02", "01"]
    third = sim_store.search_events(EventQuery(limit=3, cursor=second.next_cursor))
    assert [e["@timestamp"][14:16] for e in third.events] == ["00"] and third.next_cursor is None
    assert sim.cluster.calls("POST", "/_pit")[1:], "a new point in time replaces the expired one"
    assert not sim.cluster.pits  # the last page releases its point in time
    assert "data_stream" not in third.events[0]


def test_every_generated_query_is_a_valid_query_container(es_spec):
    """Each query is a ``QueryContainer`` of Elastic's specification (a misspelt clause or option fails)."""
    from sentinel.store.base import AlertQuery
    from sentinel.store.elasticsearch import alert_query

    texts = [
        'source.ip:10.1* source.ip:10.1.2.3 http.response.status_code:4* message:"sai mật khẩu" url.original:/a*',
        "user.name:nguyen* labels.province:Huế event.original:x* union select",
        "http.response.status_code:abc",
        'NOT (a:b OR c:d*) AND e:[1 TO 5} AND f:>=x AND url.original:/a?b* AND g:* AND sel* AND "a b"',
        "@timestamp:[now-1h TO now] http.response.status_code:<400",
    ]
    queries = [event_query(parse_query(t)) for t in texts]
    queries.append(alert_query(AlertQuery(status=["open"], severity=["high"], rule_id="r", since=datetime.now(UTC))))
    for q in queries:
        assert es_spec.valid(q, "_types.query_dsl::QueryContainer") == []
    assert es_spec.valid({"term": {"a": {"valeu": 1}}}, "_types.query_dsl::QueryContainer")
