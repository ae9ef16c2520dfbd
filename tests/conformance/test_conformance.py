"""Field agreement with Elastic's integrations, per format, must not fall below what it is today."""

from __future__ import annotations

import pytest

from tests.conformance.conformance import agreement

# Measured on the corpus when it was written (bench/RESULTS.md); a change that lowers one fails here.
FLOORS = {"access": 0.98, "syslog": 1.0, "auth": 1.0, "firewall": 0.98, "json": 1.0}
RESULTS = agreement()


@pytest.mark.parametrize("fmt", sorted(FLOORS))
def test_field_agreement_does_not_regress(fmt: str) -> None:
    res = RESULTS[fmt]
    assert res.cases >= 2 and res.fields >= 10
    assert res.ratio >= FLOORS[fmt], "\n".join(res.misses)


def test_every_line_of_the_corpus_parses() -> None:
    assert set(RESULTS) == set(FLOORS)
