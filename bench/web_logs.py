"""Web detection on real access logs: alerts per rule, and the attack lines no alert covers.

Parses each file as ``sentinel detect`` does (``LineReader``, the default portal profile), puts the
events in time order (rotated logs are often concatenated newest first) and runs the whole pack.
Beside the alerts it counts, without the parser, the raw lines that carry an unmistakable attack
marker (a reference written here with plain regular expressions: traversal, ``cmd.exe``/``root.exe``,
script tags, a proxy request, a JNDI lookup, Shellshock, a scanner's name in the user agent) and
reports how many of them are evidence of some alert, with the most common requests among the rest,
so misses can be read by hand. Public logs used so far (see bench/RESULTS.md):

- the Honeynet Project's Red Hat 7.1 honeypot, Apache ``access_log*`` of 2004 (Anton Chuvakin's
  collection, as stored in https://github.com/wagaken/first-step-for-log-analysis, ``dataset/httpd``);
- the access log of semicomplete.com of May 2015 in https://github.com/elastic/examples
  (``Common Data Formats/apache_logs/apache_logs``).

    python bench/web_logs.py honeynet_access.log semicomplete_apache.log
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentinel.collect.parsers import LineReader
from sentinel.config import DEFAULT_CONTENT_DIR
from sentinel.detect.engine import Engine
from sentinel.ingest.stream import iter_lines

# Markers no benign request carries, looked for in the raw line.
MARKERS = {
    "traversal": re.compile(r"\.\.(?:/|\\|%2f|%5c|%255c|%c0%af|%c1%1c|%c1%9c)", re.IGNORECASE),
    "windows shell": re.compile(r"/(?:cmd|root)\.exe", re.IGNORECASE),
    "script tag": re.compile(r"<script|%3cscript", re.IGNORECASE),
    "proxy request": re.compile(r'"(?:CONNECT \S+|[A-Z]+ https?://\S+) HTTP/'),
    "jndi": re.compile(r"\$\{jndi:|%24%7bjndi", re.IGNORECASE),
    "shellshock": re.compile(r"\(\) \{"),
    "scanner": re.compile(r'"[^"]*(?:nikto|sqlmap|nmap|masscan|zgrab|w00tw00t|zmeu|morfeus)[^"]*"$', re.IGNORECASE),
}
REQUEST = re.compile(r'"([A-Z]+) (\S{0,80})')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--misses", type=int, default=12, help="most common uncovered requests to list")
    args = ap.parse_args()
    for path in args.files:
        engine = Engine.from_paths([DEFAULT_CONTENT_DIR / "rules"], pipeline="ecs")
        started = time.perf_counter()
        reader = LineReader("access")
        events = []
        with path.open("rb") as f:
            for offset, line in iter_lines(f):
                events += reader.parse(line, source=str(path), position=offset)
        events.sort(key=lambda e: e["@timestamp"])
        parsed = time.perf_counter() - started
        alerts = engine.process(events) + engine.flush()
        elapsed = time.perf_counter() - started
        errors = sum(e["event"].get("kind") == "pipeline_error" for e in events)
        per_rule: Counter[str] = Counter(a.rule.title for a in alerts)
        sources: dict[str, set[str]] = defaultdict(set)
        covered: set[str] = set()
        for a in alerts:
            sources[a.rule.title].add(str(a.entity))
            covered.update(e["event"]["original"] for e in a.events)
        print(
            f"== {path.name}: {len(events):,} events ({errors} unparsable), parse {parsed:.1f} s, all {elapsed:.1f} s"
        )
        print(f"   {len(alerts):,} alerts")
        for title, n in per_rule.most_common():
            print(f"   {n:6,d} alerts, {len(sources[title]):4d} entities  {title}")
        marked: Counter[str] = Counter()
        hit: Counter[str] = Counter()
        missed: Counter[str] = Counter()
        for e in events:
            raw = e["event"]["original"]
            kinds = [k for k, rx in MARKERS.items() if rx.search(raw)]
            for k in kinds:
                marked[k] += 1
                hit[k] += raw in covered
            if kinds and raw not in covered:
                m = REQUEST.search(raw)
                missed[f"{m.group(1)} {m.group(2)}" if m else raw[:80]] += 1
        for k in MARKERS:
            if marked[k]:
                print(f"   marker {k}: {marked[k]:,} lines, {hit[k]:,} in an alert")
        for request, n in missed.most_common(args.misses):
            print(f"   missed {n:5,d}  {request}")


if __name__ == "__main__":
    main()
