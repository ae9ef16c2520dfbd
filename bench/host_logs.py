"""Host-log detection on real auth logs: alerts per rule against an independent count of brute force.

Reads each file the way ``sentinel detect`` does (``LineReader``: syslog header, auth-log
content, yearless timestamps from the file's sequence) and runs the whole pack. The reference is
computed here without the parser: with a plain regular expression over the raw lines, the
addresses with ten or more failed SSH attempts within five minutes (what the brute-force rule
claims to find). Public logs used so far: loghub's ``OpenSSH/OpenSSH_2k.log`` and
``Linux/Linux_2k.log`` (https://github.com/logpai/loghub).

    python bench/host_logs.py --year 2005 Linux_2k.log
    python bench/host_logs.py OpenSSH_2k.log
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentinel.collect.parsers import LineReader
from sentinel.collect.syslog_parse import stream_anchor
from sentinel.config import DEFAULT_CONTENT_DIR
from sentinel.detect.engine import Engine
from sentinel.ingest.stream import iter_lines

# One failed attempt: sshd's own line, or (logs holding only PAM's lines) the sshd(pam_unix) line.
ATTEMPT = re.compile(
    r"sshd\[\d+\]: (?:message repeated (\d+) times: \[ )?Failed \S+ for (?:invalid user )?.*? from (\S+)"
    r"|sshd\(pam_unix\)\[\d+\]: authentication failure;.*rhost=(\S+)"
)
BRUTE = "SSH brute force from one address"


def reference(path: Path, threshold: int = 10, span: float = 300.0) -> set[str]:
    """Addresses with ``threshold`` failed attempts within ``span`` seconds, by regex over the raw lines."""
    times: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text(errors="replace").splitlines():
        m = ATTEMPT.search(line)
        if m:
            t = datetime.strptime("2000 " + line[:15], "%Y %b %d %H:%M:%S").timestamp()
            times[m.group(2) or m.group(3)] += [t] * int(m.group(1) or 1)
    found = set()
    for addr, ts in times.items():
        ts.sort()
        lo = 0
        for hi in range(len(ts)):
            while ts[hi] - ts[lo] > span:
                lo += 1
            if hi - lo + 1 >= threshold:
                found.add(addr)
                break
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--year", type=int, help="year of the first line (as sentinel detect --year)")
    args = ap.parse_args()
    for path in args.files:
        engine = Engine.from_paths([DEFAULT_CONTENT_DIR / "rules"], pipeline="ecs")
        events = []
        started = time.perf_counter()
        with path.open("rb") as f:
            reader = LineReader("syslog", anchor=stream_anchor(f), year=args.year)
            for offset, line in iter_lines(f):
                events += reader.parse(line, source=str(path), position=offset)
        parsed = time.perf_counter() - started
        alerts = engine.process(events) + engine.flush()
        elapsed = time.perf_counter() - started
        kinds = Counter(e["event"].get("dataset") for e in events)
        actions = Counter(e["event"].get("action") for e in events if e["event"].get("action"))
        per_rule = Counter(a.rule.title for a in alerts)
        brute = {a.entity.get("source.address") for a in alerts if a.rule.title == BRUTE}
        ref = reference(path)
        print(f"== {path.name}: {len(events):,} events ({dict(kinds)}), parse {parsed:.2f} s, all {elapsed:.2f} s")
        print(f"   years: {sorted({e['@timestamp'][:4] for e in events})}")
        print(f"   actions: {dict(actions.most_common(8))}")
        for title, n in per_rule.most_common():
            print(f"   {n:4d}  {title}")
        print(
            f"   brute force by address: reference {len(ref)}, detected {len(brute)}, "
            f"both {len(ref & brute)}, missed {sorted(ref - brute)}, extra {sorted(brute - ref)}"
        )


if __name__ == "__main__":
    main()
