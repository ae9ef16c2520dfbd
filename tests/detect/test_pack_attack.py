"""The shipped ATT&CK data and pySigma working offline with it."""

from __future__ import annotations

import json

from sentinel.detect import attack_data
from sentinel.detect.attack_data import AttackData, compact_from_stix, install_offline, load, to_stix


def test_shipped_data_covers_enterprise_attack():
    data = load()
    assert data.version == "18.1"
    assert len(data.tactics) == 14 and data.tactics["TA0001"] == "initial-access"
    assert data.techniques["T1190"] == "Exploit Public-Facing Application"
    assert data.technique_tactics["T1110.004"] == ["credential-access"]
    assert len(data.techniques) > 600 and len(data.software) > 500 and len(data.intrusion_sets) > 100


def test_tag_checks():
    data = load()
    assert data.check_tag("t1190") is None
    assert data.check_tag("T1110.003") is None
    assert data.check_tag("credential-access") is None
    assert data.check_tag("g0007") is None  # an intrusion set
    assert "no technique T1999" in data.check_tag("t1999")
    assert "not an ATT&CK" in data.check_tag("credential_access")


def test_generator_round_trip_through_stix():
    small = AttackData(
        version="1.0",
        tactics={"TA0001": "initial-access"},
        techniques={"T1190": "Exploit Public-Facing Application", "T1078.003": "Local Accounts"},
        technique_tactics={"T1190": ["initial-access"], "T1078.003": ["initial-access", "persistence"]},
        intrusion_sets={"G0001": "Group"},
        software={"S0001": "Tool"},
        mitigations={"M1013": "Guidance"},
    )
    bundle = to_stix(small)
    bundle["objects"].append(
        {
            "type": "attack-pattern",
            "revoked": True,
            "name": "old",
            "external_references": [{"source_name": "mitre-attack", "external_id": "T0000"}],
        }
    )
    compact = compact_from_stix(bundle)
    assert compact["version"] == "1.0"
    assert compact["techniques"] == {
        "T1078.003": ["Local Accounts", ["initial-access", "persistence"]],
        "T1190": ["Exploit Public-Facing Application", ["initial-access"]],
    }
    assert compact["mitigations"] == {"M1013": "Guidance"}


def test_cli_generator_writes_the_compact_form(tmp_path, capsys):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(to_stix(load())))
    assert attack_data.main([str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads(attack_data.DATA_FILE.read_text())
    assert attack_data.main([str(tmp_path / "missing.json")]) == 2


def test_pysigma_uses_the_local_data():
    from sigma.collection import SigmaCollection
    from sigma.data import mitre_attack
    from sigma.validators.core.tags import ATTACKTagValidator

    stix = install_offline()
    assert stix.is_file()
    assert mitre_attack.mitre_attack_version == "18.1"
    (rule,) = SigmaCollection.from_yaml(
        "title: t\nlogsource: {category: webserver}\ndetection:\n  sel: {cs-method: PUT}\n  condition: sel\n"
        "tags: [attack.initial-access, attack.t1190, attack.t1999]\n"
    ).rules
    issues = ATTACKTagValidator().validate(rule)
    assert [str(i.tag) for i in issues] == ["attack.t1999"]
