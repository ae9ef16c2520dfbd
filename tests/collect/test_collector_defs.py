"""collectors/*.yaml: the shipped examples load; mistakes are reported as file:line: reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.content import ContentError
from sentinel.ingest.definitions import HttpOutput, load_collector, parse_size

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["portal-frontend.yaml", "commune-edge.yaml"])
def test_examples_load(name: str) -> None:
    defn = load_collector(REPO / "collectors" / name)
    assert defn.sources
    assert defn.enrichment.address_plan is not None and Path(defn.enrichment.address_plan).exists()


def test_commune_edge_ships_over_http() -> None:
    defn = load_collector(REPO / "collectors" / "commune-edge.yaml")
    assert isinstance(defn.output, HttpOutput) and defn.output.token_env == "SENTINEL_INGEST_TOKEN"
    assert defn.queue.max_bytes == 8 << 30
    assert defn.retry.max == 300


def test_defaults_are_validated_too(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("name: c\nsources:\n  - type: syslog\n    name: s\n    listen: [udp://127.0.0.1:5514]\n")
    defn = load_collector(f)
    assert defn.queue.max_bytes == 2 << 30 and defn.sources[0].max_message == 64 << 10


BASE = "name: c1\nsources:\n"
# Problems inside a source point at the source's entry (line 3) and name the field in full.
SYSLOG = BASE + "  - type: syslog\n    name: s\n"
FILE = BASE + "  - type: file\n    name: a\n    paths: [x]\n"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (BASE + "  - type: file\n    name: a\n    paths: []\n", 5, "sources.0.file.paths"),
        (BASE + "  - type: flie\n    name: a\n", 3, "does not match any of the expected tags"),
        (SYSLOG + "    listen: [http://0.0.0.0:514]\n", 5, "udp://, tcp:// or tls://"),
        (SYSLOG + "    listen: [tls://0.0.0.0:6514]\n", 3, "tls_cert"),
        (SYSLOG + "    listen: [udp://0.0.0.0:514]\n    timezone: ICT\n", 6, "not a UTC offset"),
        (FILE + "    multiline:\n      mode: pattern\n", 6, "exactly one of"),
        (FILE + "    multiline:\n      mode: pattern\n      start: '('\n", 8, "invalid regular expression"),
        (FILE + "  - type: file\n    name: a\n    paths: [y]\n", 1, "two sources are named 'a'"),
        (FILE + "queue:\n  max_bytes: lots\n", 7, "not a size"),
        (FILE + "queue:\n  max_events: 10\n", 7, "greater than or equal to 1000"),
        (FILE + "output:\n  type: http\n  url: ftp://x\n", 8, "output.http.url"),
        ("name: Bad Name!\nsources: []\n", 1, "should match pattern"),
    ],
)
def test_errors(tmp_path: Path, body: str, line: int, reason: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(body)
    with pytest.raises(ContentError) as err:
        load_collector(f)
    assert reason in str(err.value)
    assert err.value.line == line, str(err.value)


def test_sizes() -> None:
    assert parse_size("512MiB") == 512 << 20
    assert parse_size("2GB") == 2 << 30
    assert parse_size(100) == 100
    with pytest.raises(ValueError, match="not a size"):
        parse_size("1.5GiB")
