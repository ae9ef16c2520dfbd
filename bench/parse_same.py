"""Same events from this checkout's line parsers as from an earlier commit's, over a large, varied corpus.

Proof that a change to the parsers (a cache, a faster path) changes no output: the lines of
``tests/collect/parse_corpus.py`` (conformance corpus, demo traffic, the realistic portal lines of
bench/pipeline.py, access-log variants, the two portal layouts, JSON lines, hostile bytes) are read
by ``LineReader("auto")`` with the default portal profile and with a second portal's own profile,
twice in a row (the second time with warm caches), in a fresh process of each tree. Every event must
be equal to the baseline's, key order included; what the clock writes is left out: ``event.ingested``,
``event.created`` (syslog) and the ``@timestamp`` of a kept error or of a line without a time.

    git archive main sentinel | tar -x -C /tmp/base    # the baseline's package
    python bench/parse_same.py --baseline-tree /tmp/base
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.collect.parse_corpus import OWN_PROFILE, corpus  # noqa: E402

# Run in each tree's own process: only names every version has (LineReader, load_profile).
PARSE = """
import pickle, sys
from datetime import UTC, datetime
from sentinel.collect.parsers import LineReader
from sentinel.collect.parsers.portal import load_profile
lines_path, profile_path, out_path = sys.argv[1:4]
lines = pickle.loads(open(lines_path, "rb").read())
out = []
for profile in (None, load_profile(profile_path)):
    for _round in range(2):
        reader = LineReader("auto", anchor=datetime(2026, 7, 2, tzinfo=UTC), year=2026, profile=profile)
        for i, raw in enumerate(lines):
            for event in reader.parse(raw, source="corpus", position=i):
                ev = event["event"]
                if ev.get("ingested") is not None and event.get("@timestamp") == ev["ingested"]:
                    event["@timestamp"] = "(clock)"
                ev["ingested"] = "(clock)"
                if "created" in ev:
                    ev["created"] = "(clock)"
                if ev.get("kind") == "pipeline_error":
                    event["@timestamp"] = "(clock)"
                out.append(event)
open(out_path, "wb").write(pickle.dumps(out))
"""


def parsed(tree: Path, lines: Path, profile: Path, work: Path) -> tuple[list[dict[str, Any]], float]:
    """The events ``tree``'s parsers make of the corpus, in a fresh process; and the seconds it took."""
    out = work / f"events-{abs(hash(str(tree)))}.pickle"
    started = time.perf_counter()
    # from the tree's own folder: `python -c` puts the working folder first on the module path
    subprocess.run([sys.executable, "-c", PARSE, str(lines), str(profile), str(out)], cwd=tree, check=True)
    seconds = time.perf_counter() - started
    return pickle.loads(out.read_bytes()), seconds


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two parsed events differ (a value, a missing key or the order of keys), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path or '.'}: keys {list(a)} != {list(b)}"
        for key in a:
            if (found := first_difference(a[key], b[key], f"{path}.{key}")) is not None:
                return found
        return None
    if type(a) is not type(b) or (isinstance(a, list) and len(a) != len(b)):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if (found := first_difference(x, y, f"{path}[{i}]")) is not None:
                return found
    elif a != b and not (a != a and b != b):  # NaN equals NaN here
        return f"{path}: {a!r} != {b!r}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--baseline-tree", type=Path, required=True, help="a folder holding the baseline's sentinel/")
    parser.add_argument("--sessions", type=int, default=4000, help="demo sessions per seed (about 6 lines each)")
    parser.add_argument("--variants", type=int, default=20000, help="random access-log variants")
    args = parser.parse_args()
    lines = corpus(sessions=args.sessions, variants_count=args.variants)
    with tempfile.TemporaryDirectory(prefix="parse-same-") as tmp:
        work = Path(tmp)
        (work / "lines.pickle").write_bytes(pickle.dumps(lines))
        (work / "profile.yaml").write_text(OWN_PROFILE)
        base, base_s = parsed(args.baseline_tree.resolve(), work / "lines.pickle", work / "profile.yaml", work)
        new, new_s = parsed(ROOT, work / "lines.pickle", work / "profile.yaml", work)
    print(f"{len(lines):,} lines, {len(base):,} events (2 profiles x 2 rounds); seconds: {base_s:.1f} then {new_s:.1f}")
    if len(base) != len(new):
        raise SystemExit(f"different event counts: baseline {len(base)}, this checkout {len(new)}")
    differ = [(i, d) for i, (a, b) in enumerate(zip(base, new, strict=True)) if (d := first_difference(a, b))]
    for i, d in differ[:20]:
        print(f"  line {i % len(lines)}: {d}\n    {lines[i % len(lines)][:300]!r}")
    if differ:
        raise SystemExit(f"{len(differ):,} of {len(base):,} events differ")
    print("every event equal, key order included")


if __name__ == "__main__":
    main()
