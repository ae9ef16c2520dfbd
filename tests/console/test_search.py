"""/console/search: the query language over a time span, histogram, columns, links, evidence and scope."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from .conftest import make_alert


def links(html: str, cls: str) -> list[str]:
    """The targets of the links of one class, unescaped."""
    tags = re.findall(rf'<a [^>]*class="{cls}[ "][^>]*>', html)
    return [re.search(r'href="([^"]+)"', tag).group(1).replace("&amp;", "&") for tag in tags]


def test_query_counts_and_histogram(client, events):
    r = client.get("/console/search", params={"q": "source.ip:203.0.113.7 AND http.response.status_code:500"})
    assert r.status_code == 200
    assert "10 sự kiện khớp" in r.text
    assert r.text.count('class="event-row"') == 10
    bars = [int(n) for n in re.findall(r"<title>[^<]*: (\d+)</title>", r.text)]
    assert sum(bars) == 10 and len(bars) > 1  # the histogram counts the same query, bucket by bucket
    assert "Asia/Ho_Chi_Minh (UTC+07:00)" in r.text  # the zone every time is in
    same = client.get("/console/search", params={"q": "source.ip:203.0.113.7 http.response.status_code:500"})
    assert "10 sự kiện khớp" in same.text
    assert "35 matching events" in client.get("/console/search?lang=en").text


def test_malformed_query_is_shown_with_its_position(client, events):
    r = client.get("/console/search", params={"q": "source.ip:203.0.113.7 AND (status"})
    assert r.status_code == 400
    assert "Vị trí 27: dấu &#39;(&#39; không được đóng." in r.text
    pointer = re.search(r'id="query-pointer">(.*?)</pre>', r.text, re.S).group(1).split("\n")
    assert pointer[1].index("^") == pointer[0].index("(")  # the caret sits under the unclosed parenthesis
    english = client.get("/console/search", params={"q": "a:1 OR", "lang": "en"})
    assert "Position 5: OR needs a term after it" in english.text
    assert 'value="source.ip:203.0.113.7 AND (status"' in r.text  # the form keeps what was typed


def test_time_spans_relative_and_absolute(client, events):
    r = client.get("/console/search", params={"span": "15m"})
    assert "sự kiện khớp" in r.text
    n_15m = int(re.search(r"(\d+) sự kiện khớp", r.text).group(1))
    assert 0 < n_15m < 35
    bad = client.get("/console/search", params={"start": "2026-07-02T10:00", "end": "2026-07-01T10:00"})
    assert bad.status_code == 400 and "Thời điểm bắt đầu phải trước thời điểm kết thúc." in bad.text
    none = client.get("/console/search", params={"start": "2020-01-01T00:00", "end": "2020-01-02T00:00"})
    assert 'id="no-events"' in none.text


def test_values_link_to_filters_and_entities(client, events):
    r = client.get("/console/search", params={"q": "http.response.status_code:404"})
    filters = links(r.text, "val")
    ip_filter = next(u for u in filters if "198.51.100.4" in u)
    q = parse_qs(urlsplit(ip_filter).query)["q"][0]
    assert q == '(http.response.status_code:404) AND source.ip:"198.51.100.4"'
    assert "10 sự kiện khớp" in client.get(ip_filter).text
    assert '<a class="ent" href="/console/entities/ip/198.51.100.4"' in r.text
    assert '<pre class="raw line">198.51.100.4 - - &#34;GET /portal/' in r.text  # the raw line, as text


def test_columns_are_chosen(client, events):
    r = client.get("/console/search", params=[("col", "source.ip"), ("col", "event.original")])
    assert '<th class="mono">event.original</th>' in r.text and '<th class="mono">user.name</th>' not in r.text
    add = links(r.text, "col-add")
    assert any("col=http.response.status_code" in u for u in add)


def test_show_all_events_of_an_alert(client, store, events):
    alert = make_alert(ip="203.0.113.7")
    alert.event_ids = [e["event"]["id"] for e in events[:12]]
    alert.count = 12
    alert.first_seen = min(e["@timestamp"] for e in events[:12])
    store.record_alert(alert)
    r = client.get("/console/search", params={"alert": alert.id})
    assert r.status_code == 200 and "12 sự kiện khớp" in r.text and 'id="alert-scope"' in r.text
    narrowed = client.get("/console/search", params={"alert": alert.id, "q": "http.response.status_code:500"})
    assert "10 sự kiện khớp" in narrowed.text
    assert client.get("/console/search", params={"alert": "nope"}).status_code == 404
    page = client.get(f"/console/alerts/{alert.id}").text
    assert f'href="/console/search?alert={alert.id}"' in page
