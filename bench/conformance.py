"""Field agreement with Elastic's integrations per format, over the conformance corpus (tests/conformance).

Prints, per format, the cases, the expected fields and how many come out equal, then every disagreement.

    python bench/conformance.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conformance.conformance import agreement


def main() -> None:
    results = agreement()
    print("| format | cases | expected fields | equal | agreement |")
    print("|---|---|---|---|---|")
    for fmt, res in sorted(results.items()):
        print(f"| {fmt} | {res.cases} | {res.fields} | {res.agreed} | {res.ratio:.1%} |")
    for fmt, res in sorted(results.items()):
        for miss in res.misses:
            print(f"- {fmt}: {miss}")


if __name__ == "__main__":
    main()
