"""The conformance corpus: real-format lines with the ECS fields Elastic's integrations would give them.

Each ``<format>.yaml`` lists cases of a raw ``line`` and the ``expected`` fields (dotted ECS names;
``null`` means the field must be absent), written by hand from the integrations' documentation and
published samples. :func:`agreement` parses every line the way ``sentinel ingest`` does and counts,
per format, how many expected fields come out equal (type included; lists compared as sets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sentinel import ecs
from sentinel.collect.parsers import LineReader
from sentinel.collect.syslog_parse import VIETNAM

HERE = Path(__file__).resolve().parent
ANCHOR = datetime(2026, 7, 2, tzinfo=UTC)


@dataclass
class FormatResult:
    fmt: str
    cases: int = 0
    fields: int = 0
    agreed: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.agreed / self.fields if self.fields else 1.0


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, list) and isinstance(got, list):
        return sorted(map(str, want)) == sorted(map(str, got))
    return type(want) is type(got) and want == got


def agreement() -> dict[str, FormatResult]:
    results: dict[str, FormatResult] = {}
    for path in sorted(HERE.glob("*.yaml")):
        corpus = yaml.safe_load(path.read_text())
        res = results.setdefault(corpus["format"], FormatResult(corpus["format"]))
        reader = LineReader("auto", tz=VIETNAM, anchor=ANCHOR, year=2026)
        for i, case in enumerate(corpus["cases"]):
            (event,) = reader.parse(case["line"].encode(), source=f"conformance:{path.name}", position=i)
            flat = ecs.flatten(event)
            res.cases += 1
            for name, want in case["expected"].items():
                got = flat.get(name) if not isinstance(want, dict) else ecs.get_field(event, name)
                if isinstance(want, dict) and got is None:
                    got = {k[len(name) + 1 :]: v for k, v in flat.items() if k.startswith(name + ".")} or None
                    got = ecs.unflatten(got) if got else None
                ok = got is None if want is None else _same(want, got)
                res.fields += 1
                res.agreed += ok
                if not ok:
                    res.misses.append(f"{case['name']}: {name} expected {want!r}, got {got!r}")
    return results
