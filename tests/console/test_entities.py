"""Entity pages: alerts, timeline, first/last seen, address plan, related entities, playbooks; links to them."""

from __future__ import annotations

import re

from .conftest import make_alert, web_event


def test_ip_page_shows_alerts_events_and_context(client, store, events):
    store.append_events([web_event(99, "203.0.113.7", 302, "minh", minutes_ago=300, destination={"ip": "10.0.0.8"})])
    a = store.record_alert(make_alert(ip="203.0.113.7"))
    other = store.record_alert(make_alert(ip="198.51.100.4", rule_id="web-scan", title="Quét web"))
    r = client.get("/console/entities/ip/203.0.113.7")
    assert r.status_code == 200
    assert f'href="/console/alerts/{a.id}"' in r.text and f'/console/alerts/{other.id}"' not in r.text
    assert "26 sự kiện khớp" in r.text  # 25 + the older one, within the default 7 days
    assert r.text.count('class="event-row"') == 26
    first = re.search(r'id="first-seen">([^<]+)<', r.text).group(1)
    last = re.search(r'id="last-seen">([^<]+)<', r.text).group(1)
    assert first != last and first != "-"
    assert 'href="/console/entities/user/minh"' in r.text and 'href="/console/entities/ip/10.0.0.8"' in r.text
    assert "Bên ngoài" in re.search(r'id="address-plan">(.*?)</dd>', r.text, re.S).group(1)
    assert "playbook--" in r.text  # the repository's playbooks apply to web attack alerts


def test_address_plan_context(client):
    """The repository's plan: 10.1.4.0/24 is the Ba Đình one-stop centre in Hà Nội; 203.0.113.9 is outside."""
    inside = client.get("/console/entities/ip/10.1.4.20").text
    plan = re.search(r'id="address-plan">(.*?)</dd>', inside, re.S).group(1)
    assert "Nội bộ" in plan and "phường Ba Đình" in plan and "Hà Nội" in plan and "10.1.4.0/24" in plan
    outside = client.get("/console/entities/ip/203.0.113.9?lang=en").text
    assert "External" in re.search(r'id="address-plan">(.*?)</dd>', outside, re.S).group(1)


def test_user_and_host_pages_and_bad_names(client, store, events):
    r = client.get("/console/entities/user/admin")
    assert r.status_code == 200 and "12 sự kiện khớp" in r.text  # the odd ones of 25
    assert client.get("/console/entities/host/web-01").status_code == 200
    assert client.get("/console/entities/ip/not-an-ip").status_code == 404
    assert client.get("/console/entities/planet/earth").status_code == 404


def test_queue_and_alert_link_entities_without_wrapping(client, store):
    a = store.record_alert(make_alert(ip="203.0.113.7"))
    for url in ("/console/alerts", f"/console/alerts/{a.id}"):
        html = client.get(url).text
        assert (
            '<span class="nowrap entity">source.ip=<a href="/console/entities/ip/203.0.113.7">203.0.113.7</a></span>'
            in html
        ), url
