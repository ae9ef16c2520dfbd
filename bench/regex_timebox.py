"""Cost and effect of the time box on rule regular expressions (``sentinel.detect.values.regex_matcher``).

Measures in one run, on the ``|re`` patterns of the shipped pack:

1. per-search time on ordinary portal URL queries: Python ``re`` (the baseline,
   no protection), ``regex`` without a time box, and ``regex`` with the 50 ms
   time box as the engine runs it;
2. the crafted input ``union`` + ``/**/`` * n + ``x&sort=select`` against the
   pack's UNION-SELECT pattern: ``re`` time for growing n (stopped once a search
   passes 2 s: it grows about sixfold per two more comments), and the time-boxed
   search at n = 40 (``re`` would take hours there).

Usage: python bench/regex_timebox.py [--searches 20000]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

import regex
import yaml

from sentinel.detect.values import REGEX_TIMEOUT

REPO = Path(__file__).resolve().parents[1]


def pack_patterns() -> list[tuple[str, int]]:
    """(pattern, flags) of every ``|re`` value in the shipped rules."""
    out = []
    for path in sorted((REPO / "rules").rglob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            for sel in (doc or {}).get("detection", {}).values():
                if not isinstance(sel, dict):
                    continue
                for key, value in sel.items():
                    mods = key.split("|")[1:]
                    if "re" in mods:
                        flags = re.IGNORECASE if "i" in mods else 0
                        out += [(v, flags) for v in (value if isinstance(value, list) else [value])]
    return out


def queries(n: int) -> list[str]:
    rng = random.Random(7)
    words = ["ma_ho_so", "page", "limit", "format", "q", "tinh", "xa", "thu_tuc", "id", "sort"]
    return [
        "&".join(
            f"{rng.choice(words)}={rng.choice(['1', 'html', 'json', 'abc', '1.001612', '20', 'Ha%20Noi'])}"
            for _ in range(rng.randint(1, 6))
        )
        for _ in range(n)
    ]


def per_search(fn, texts: list[str]) -> float:
    start = time.perf_counter()
    for t in texts:
        fn(t)
    return (time.perf_counter() - start) / len(texts) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--searches", type=int, default=20_000)
    args = ap.parse_args()
    texts = queries(args.searches)
    pats = pack_patterns()
    print(f"{len(pats)} pack patterns, {len(texts)} URL queries each; microseconds per search (best of 3)")
    print(f"{'engine':<28}{'mean us':>10}")
    rows = {}

    def boxed(pattern: str, flags: int):
        rx = regex.compile(pattern, flags)
        return lambda t: rx.search(t, timeout=REGEX_TIMEOUT)

    for name, build in (
        ("re (baseline, unprotected)", lambda p, f: re.compile(p, f).search),
        ("regex, no time box", lambda p, f: regex.compile(p, f).search),
        (f"regex, {REGEX_TIMEOUT * 1000:g} ms time box", boxed),
    ):
        fns = [build(p, f) for p, f in pats]
        best = min(sum(per_search(fn, texts) for fn in fns) / len(fns) for _ in range(3))
        rows[name] = best
        print(f"{name:<28}{best:>10.2f}")
    union = next(p for p, _ in pats if p.startswith("union"))
    print("\ncrafted URL against the pack's UNION-SELECT pattern:")
    rx_re = re.compile(union, re.IGNORECASE)
    for n in range(10, 40, 2):
        text = "id=1 union" + "/**/" * n + "x&sort=select"
        start = time.perf_counter()
        rx_re.search(text)
        took = time.perf_counter() - start
        print(f"  re, n={n:<3} {took * 1000:>10.1f} ms")
        if took > 2:
            break
    rx = regex.compile(union, regex.IGNORECASE)
    text = "id=1 union" + "/**/" * 40 + "x&sort=select"
    start = time.perf_counter()
    try:
        rx.search(text, timeout=REGEX_TIMEOUT)
        outcome = "finished"
    except TimeoutError:
        outcome = "gave up"
    print(f"  regex with time box, n=40: {outcome} after {(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
