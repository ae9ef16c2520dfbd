"""Protection at ingest against an earlier commit's: the same protected events, and its CPU per event cold and warm.

Each tree (``--baseline-tree``, then this checkout; ``--rounds`` times, alternating) runs in a fresh
process of its own: it parses and enriches the generated portal log (``bench/pipeline.py``'s generator,
``--lines`` lines) untimed, then protects every event in order with the ingest transform, timing the
protection alone (``process_time``) over two windows: the file's first lines (``--cold``, its tables
filling) and a stretch further on (``--warm``). Every protected event is kept as a digest, and so is
every event of the parse corpus (``tests/collect/parse_corpus.py``: the conformance corpus, the demo
traffic of two seeds, access-log variants, JSON and hostile lines) protected for each purpose of the
policy. The trees must give the same events, key order included; what differs by design is left out:
``event.ingested`` (the clock) and the ciphertext of ``pe-`` tokens (a random IV per value).

    git archive main sentinel | tar -x -C /tmp/base    # the baseline's package
    python bench/protection.py --baseline-tree /tmp/base
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in each tree's own process: only names every version has.
RUN = r"""
import hashlib, os, re, sys, tempfile, time
from datetime import UTC, datetime
tree, root, log, out = sys.argv[1:5]
cold, warm = (tuple(map(int, w.split(":"))) for w in sys.argv[5:7])
sys.path[:0] = [tree, root]
import orjson
from sentinel.collect.parsers import LineReader, parse_line
from sentinel.config import load_settings
from sentinel.ingest.assemble import edge_stages
from sentinel.ingest.stream import iter_lines
from sentinel.policy.purposes import purpose_protector
from sentinel.runtime import Runtime, settle_heap
from tests.collect.parse_corpus import corpus

assert os.path.realpath(sys.modules["sentinel"].__file__).startswith(os.path.realpath(tree))
TOKEN = re.compile(rb"pe-[a-z_]+-[A-Za-z0-9+/_=%-]+")

def digest(event):
    event = dict(event)
    if isinstance(event.get("event"), dict):
        event["event"] = {k: v for k, v in event["event"].items() if k != "ingested"}
    data = TOKEN.sub(b"pe-", orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS))
    return hashlib.blake2b(data, digest_size=8).digest()

runtime = Runtime(load_settings(env={"SENTINEL_DATA_DIR": tempfile.mkdtemp(), "SENTINEL_POLICY_KEY": "b" * 40}))
stages = edge_stages(runtime, runtime.address_plan)
enrich, protect = (stages[0], stages[1]) if len(stages) == 2 else (None, stages[0])
from sentinel.classify.recognizers import _tagged_people
_tagged_people("Bà Giáp Thu Ngân nộp hồ sơ")  # the name tagger's model, loaded once per process
settle_heap()
spent = {"cold": 0.0, "warm": 0.0}
digests = []
source = os.path.realpath(log)
with open(log, "rb") as f:
    batch = []
    for item in iter_lines(f):
        batch.append(item)
        if len(batch) == 1000:
            first = len(digests)
            events = [parse_line(line, source=source, position=off) for off, line in batch]
            if enrich is not None:
                events = [enrich(e) for e in events]
            started = time.process_time()
            events = [protect(e) for e in events]
            seconds = time.process_time() - started
            for name, (a, b) in (("cold", cold), ("warm", warm)):
                if a <= first < b:
                    spent[name] += seconds
            digests.extend(map(digest, events))
            batch = []
for name, (a, b) in (("cold", cold), ("warm", warm)):
    n = min(b, len(digests)) - a
    print(f"{name} {spent[name] / n * 1e6 if n > 0 else 0:.1f}")
lines = corpus()
for purpose in sorted(runtime.policy.policy.purposes):
    try:
        protector = purpose_protector(runtime.policy, purpose, runtime.keys)
    except ValueError:
        continue
    reader = LineReader("auto", anchor=datetime(2026, 7, 2, tzinfo=UTC), year=2026)
    for i, raw in enumerate(lines):
        for event in reader.parse(raw, source="corpus", position=i):
            ev = event["event"]
            if event.get("@timestamp") == ev.get("ingested") or ev.get("kind") == "pipeline_error":
                event["@timestamp"] = "(clock)"
            ev.pop("created", None)
            digests.append(digest(protector.protect(event)))
open(out, "wb").write(b"".join(digests))
print("events", len(digests))
"""


def run(tree: Path, log: Path, out: Path, cold: str, warm: str) -> tuple[dict[str, float], int]:
    """One tree's protection over the log and the corpus, in a fresh process: its figures and event count."""
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(tree), str(ROOT), str(log), str(out), cold, warm],
        cwd=tree,  # `python -c` puts the working folder first on the module path
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: {proc.stderr.strip()[-3000:]}")
    figures = dict(line.split() for line in proc.stdout.splitlines())
    return {k: float(v) for k, v in figures.items() if k != "events"}, int(figures["events"])


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--baseline-tree", type=Path, required=True, help="a tree holding an earlier `sentinel` package"
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--log", type=Path, help="use this portal log (written by bench/pipeline.py --keep)")
    parser.add_argument("--cold", default="0:5000", help="first:last event of the cold window")
    parser.add_argument("--warm", default="20000:40000", help="first:last event of the warm window")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.pipeline import make_log

    work = Path(tempfile.mkdtemp(prefix="protection-bench-"))
    log = args.log
    if log is None:
        log = work / "portal.log"
        make_log(log, args.lines)
    print(f"{log}: {sum(1 for _ in log.open('rb')):,} lines; {os.cpu_count()} cores; {load()}")
    trees = {"baseline": args.baseline_tree.resolve(), "this checkout": ROOT}
    outputs: dict[str, bytes] = {}
    for round_ in range(args.rounds):
        for name, tree in trees.items():
            out = work / f"{name.replace(' ', '-')}.digests"
            figures, count = run(tree, log, out, args.cold, args.warm)
            outputs.setdefault(name, out.read_bytes())
            print(
                f"round {round_ + 1} {name:>13}: protection CPU µs per event: cold ({args.cold}) {figures['cold']:.1f},"
                f" warm ({args.warm}) {figures['warm']:.1f}; {count:,} events protected   [{load()}]"
            )
    base, new = outputs["baseline"], outputs["this checkout"]
    if len(base) != len(new):
        raise SystemExit(f"DIFFERENT: {len(base) // 8:,} events against {len(new) // 8:,}")
    differing = [i for i in range(0, len(base), 8) if base[i : i + 8] != new[i : i + 8]]
    if differing:
        raise SystemExit(
            f"DIFFERENT: {len(differing):,} of {len(base) // 8:,} events, the first at {differing[0] // 8}"
        )
    print(f"the same {len(base) // 8:,} protected events")


if __name__ == "__main__":
    main()
