"""ATT&CK tags by name with their link, and the rule's Sigma source from the alert page."""

from __future__ import annotations

import re
from pathlib import Path

from sentinel.api.console.rules import attack_table, attack_tags

from .conftest import make_alert

REPO = Path(__file__).resolve().parents[2]


def test_every_attack_tag_in_the_rule_pack_has_a_name():
    table = attack_table()
    tags = set()
    for path in (REPO / "rules").rglob("*.yml"):
        tags.update(t.lower() for t in re.findall(r"^\s*-\s*(attack\.[\w.-]+)\s*$", path.read_text(), re.M))
    assert tags
    for tag in sorted(tags):
        (named,) = attack_tags([tag], "en")
        assert named["name"] != named["id"], f"{tag} has no name in sentinel/api/console/attack.yml"
    assert "T1110.003" in table.techniques


def test_names_links_and_languages():
    tech, tactic = attack_tags(["attack.t1110.003", "attack.credential-access", "cve.2021-44228"], "vi")
    assert tech == {
        "id": "T1110.003",
        "name": "Brute Force: Password Spraying",
        "url": "https://attack.mitre.org/techniques/T1110/003/",
    }
    assert tactic["name"] == "Truy cập thông tin xác thực" and tactic["url"].endswith("/tactics/TA0006/")


def test_alert_page_links_techniques_and_the_rule_source(client, store):
    tags = ("attack.credential-access", "attack.t1110.004")
    a = store.record_alert(make_alert(rule_id="ce385467-3de5-45a8-b90f-f1ec42378fd1", tags=tags))
    page = client.get(f"/console/alerts/{a.id}?lang=en").text
    assert 'href="https://attack.mitre.org/techniques/T1110/004/"' in page and "Credential Stuffing" in page
    assert 'href="/console/rules/ce385467-3de5-45a8-b90f-f1ec42378fd1"' in page
    source = client.get("/console/rules/ce385467-3de5-45a8-b90f-f1ec42378fd1").text
    assert "Credential stuffing against the portal" in source and "auth/auth_credential_stuffing.yml" in source
    assert "Login attempt to the portal" not in source  # only this rule's document of the file
    assert client.get("/console/rules/no-such-rule").status_code == 404
