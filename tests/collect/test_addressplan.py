"""Address plan: validation against the official registry, longest-prefix match, event enrichment."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.collect.addressplan import AddressPlan
from sentinel.content import ContentError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan() -> AddressPlan:
    return AddressPlan.load(REPO / "collectors" / "address-plan.yaml")


def test_longest_prefix_wins(plan: AddressPlan) -> None:
    commune = plan.lookup("10.1.4.17")
    assert commune is not None
    assert (commune.province, commune.province_code) == ("Thành phố Hà Nội", "01")
    assert (commune.commune, commune.commune_code) == ("Phường Ba Đình", "00004")
    province = plan.lookup("10.1.200.1")
    assert province is not None and province.commune is None and province.province_code == "01"
    national = plan.lookup("10.0.3.4")
    assert national is not None and national.province is None
    assert plan.lookup("203.0.113.5") is None
    assert plan.lookup("not an ip") is None


def test_direction_and_labels(plan: AddressPlan) -> None:
    out = plan.enrich_event({"source": {"ip": "10.11.25.3"}, "destination": {"ip": "203.0.113.5"}})
    assert out["network"]["direction"] == "outbound"
    assert out["labels"]["commune"] == "Xã Mường Phăng" and out["labels"]["province"] == "Điện Biên"
    assert out["labels"]["source_unit"].endswith("xã Mường Phăng")
    inbound = plan.enrich_event({"source": {"ip": "198.51.100.7"}, "destination": {"ip": "172.20.42.10"}})
    assert inbound["network"]["direction"] == "inbound"
    assert inbound["labels"]["commune"] == "Phường Hải Châu"
    assert "source_unit" not in inbound["labels"] and inbound["labels"]["destination_unit"]
    internal = plan.enrich_event({"source": {"ip": "10.1.70.2"}, "destination": {"ip": "10.0.0.10"}})
    assert internal["network"]["direction"] == "internal"
    assert internal["labels"]["commune"] == "Phường Hoàn Kiếm"
    # a web server log names only the client; the server is this (internal) site
    web = plan.enrich_event({"source": {"ip": "203.0.113.9"}})
    assert web["network"]["direction"] == "inbound" and "province" not in web["labels"]
    assert plan.enrich_event({"source": {"ip": "192.168.9.9"}})["network"]["direction"] == "internal"
    external = plan.enrich_event({"source": {"ip": "8.8.8.8"}, "destination": {"ip": "1.1.1.1"}})
    assert external["network"]["direction"] == "external"


def test_existing_values_are_kept(plan: AddressPlan) -> None:
    e = {"source": {"ip": "10.1.4.2"}, "labels": {"province": "from the app"}, "network": {"direction": "egress"}}
    plan.enrich_event(e)
    assert e["labels"]["province"] == "from the app" and e["network"]["direction"] == "egress"
    assert e["labels"]["commune"] == "Phường Ba Đình"


def test_pipeline_errors_are_left_alone(plan: AddressPlan) -> None:
    err = {"event": {"kind": "pipeline_error"}, "source": {"ip": "10.1.4.2"}}
    assert plan.enrich([err]) == [{"event": {"kind": "pipeline_error"}, "source": {"ip": "10.1.4.2"}}]


def test_ipv6_and_mapped_addresses(tmp_path: Path) -> None:
    f = tmp_path / "plan.yaml"
    f.write_text(
        "networks:\n  - cidr: 2001:db8:1::/48\n    commune_code: 4\n    unit: U6\n"
        "  - cidr: 10.9.0.0/16\n    province_code: 1\n    unit: U4\n"
    )
    plan = AddressPlan.load(f)
    hit = plan.lookup("2001:db8:1::5")
    assert hit is not None and hit.unit == "U6" and hit.province_code == "01"  # province from the commune
    mapped = plan.lookup("::ffff:10.9.1.1")
    assert mapped is not None and mapped.unit == "U4"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("networks:\n  - cidr: 10.1.4.1/24\n    unit: x\n", 2, "host bits set"),
        ("networks:\n  - cidr: 10.1.4.0/24\n    unit: x\n    commune_code: 999999\n", 2, "not one of the 3,321"),
        ("networks:\n  - cidr: 10.1.4.0/24\n    unit: x\n    province_code: 99\n", 2, "not one of the 34"),
        (
            "networks:\n  - cidr: 10.1.4.0/24\n    unit: x\n    province_code: 79\n    commune_code: 4\n",
            2,
            "belongs to province 01",
        ),
        ("networks:\n  - cidr: 10.1.4.0/24\n    unit: a\n  - cidr: 10.1.4.0/24\n    unit: b\n", 1, "listed twice"),
        ("networks:\n  - cidr: 10.1.4.0/24\n    unit: x\n    unti: typo\n", 4, "unti"),
        ("internal: [10.0.0.0/33]\n", 1, "CIDR"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, line: int, reason: str) -> None:
    f = tmp_path / "plan.yaml"
    f.write_text(body)
    with pytest.raises(ContentError) as err:
        AddressPlan.load(f)
    assert err.value.line == line, str(err.value)
    assert reason in str(err.value)
    assert str(err.value).startswith(f"{f}:{line}: ")
