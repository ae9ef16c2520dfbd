"""The candidate pass must never hide an identifier the recognisers would find."""

from __future__ import annotations

import pytest

from sentinel.classify.analyzer import analyze_text
from sentinel.classify.catalog import load_catalog
from sentinel.policy.candidates import candidate_lines

# Realistic spellings of every pattern-recognised entity.
EXAMPLES = {
    "VN_CCCD": ["001099012345", "001 099 012345", "079.203.004567"],
    "VN_CMND": ["CMND số 123456789"],
    "VN_BHXH": ["số BHXH 7912345678", "thẻ BHYT DN 4 01 7912345678"],
    "VN_MST": ["MST 0101243150", "mã số thuế 0101243150-001"],
    "VN_PHONE": ["0983417265", "0983 417 265", "0983.417.265", "+84 983 417 265", "(024) 3825 1234", "0084983417265"],
    "VN_PASSPORT": ["hộ chiếu B1234567"],
    "VN_LICENSE_PLATE": ["30A-123.45", "29-B1 123.45", "51G 12345", "30AB-123.45", "29B1 123.45", "51G1234"],
    "VN_BANK_ACCOUNT": ["số tài khoản 0451000123456", "STK 1903 4567 8901 2345"],
    "CREDIT_CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
    "EMAIL_ADDRESS": ["lan.nguyen@example.vn"],
    "DOSSIER_CODE": ["000.00.24.H26-250312-0045", "H01.2026.000123"],
    "DATE_OF_BIRTH": ["sinh ngày 15/03/1990", "ngày sinh 1990-03-15", "ngày 5 tháng 3 năm 1990", "15.03.1990"],
}


def test_examples_cover_every_pattern_entity():
    catalog = load_catalog()
    pattern_entities = {s.entity for s in catalog.recognizers.recognizers if s.patterns}
    assert pattern_entities <= set(EXAMPLES)


@pytest.mark.parametrize(("entity", "text"), [(e, t) for e, ts in EXAMPLES.items() for t in ts])
def test_every_recognised_identifier_is_a_candidate(entity, text):
    line = f"2026-11-20T08:00:00Z INFO ho so {text} da tiep nhan"
    assert list(candidate_lines(line.encode())), (entity, text)


def test_ordinary_log_lines_are_not_candidates():
    lines = [
        b'14.160.32.7 - - [20/Nov/2026:08:15:02 +0700] "GET /dvc/thu-tuc/1.001612?page=2 HTTP/1.1" 200 5120',
        b'{"@timestamp":"2026-11-20T01:15:03.120Z","level":"info","msg":"dossier accepted","took_ms":35}',
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0",
        # every iPhone browser's build number: two digits, a capital, three digits, but no plate
        b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) Version/17.6 Mobile/15E148 Safari/604.1",
    ]
    assert list(candidate_lines(b"\n".join(lines))) == []


def test_candidates_reach_the_recogniser():
    data = "\n".join(f"x {t} y" for ts in EXAMPLES.values() for t in ts).encode()
    found = {s.type for s in analyze_text(data.decode(), score_threshold=0.3)}
    lines = b"\n".join(data[c.start : c.end] for c in candidate_lines(data)).decode()
    assert found == {s.type for s in analyze_text(lines, score_threshold=0.3)}


def test_line_offsets():
    data = b"nothing here\nphone 0983417265 ok\nlast"
    assert [data[c.start : c.end] for c in candidate_lines(data)] == [b"phone 0983417265 ok"]
