"""End-to-end ingest speed: the configured pipeline against the bare storage floor, in the same run.

Data: generated portal traffic (``sentinel.demo.traffic``) rewritten to look like a real portal's
log: varied browsers (desktop, phones, in-app browsers of Zalo and Facebook, Cốc Cốc, crawlers),
referrers (search engines with Vietnamese queries, social networks, the portal's own pages) and
searches on the portal with Vietnamese terms (title case, lower case, without diacritics; a few
name a citizen after a title, as people do when they look up a dossier).

Measured in one run, on the same file:

- **floor**: the raw lines into SQLite (WAL, a primary key, one contentless FTS5 row each), in
  batches as the store writes them: what storing costs before any parsing or protection;
- **stages**, in this process: parse, address plan, protection, store, detection, timed apart
  over the first ``--stage-lines`` lines (where the time goes);
- **end to end**: ``sentinel ingest FILE`` in a subprocess on a fresh data directory, for each
  ``--workers`` count given (wall time, lines/s, the child's peak memory).

The machine's load average is printed beside the figures.

    python bench/pipeline.py --lines 100000 --workers 1,2
"""

# ruff: noqa: E501  (real user-agent strings are long)
from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentinel.demo.traffic import generate  # noqa: E402

BATCH = 5000

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/125.0.180 Chrome/119.0.6045.180 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/22B83 Zalo iOS/24.11.1 ZaloTheme/light ZaloLanguage/vn",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/480.0.0.41.107;FBBV/642203015;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBCR/;FBID/phone;FBLC/vi_VN;FBOP/5]",
    "Mozilla/5.0 (Linux; Android 14; SM-A556E) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Redmi Note 12 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.107 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 12; CPH2387 Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36 Zalo android/12110693 ZaloTheme/light ZaloLanguage/vi",
    "Mozilla/5.0 (Linux; Android 11; vivo 1906) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Mobile Safari/537.36 OPR/85.0.2254.74563",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240905.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.81 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/484.0.0.63.83;]",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Coc Coc Browser",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "okhttp/4.12.0",
    "VNeID/2.1.9 (Android 13; Samsung Galaxy A54)",
]

SEARCH_TERMS = [
    "Đăng Ký Kết Hôn", "đăng ký khai sinh", "Cấp Lại Căn Cước", "cap lai can cuoc cong dan", "Giấy Phép Lái Xe",
    "đổi giấy phép lái xe quốc tế", "Thủ Tục Nhận Con Nuôi", "Xác Nhận Tình Trạng Hôn Nhân", "lý lịch tư pháp",
    "Phiếu Lý Lịch Tư Pháp Số 2", "Đăng Ký Thường Trú", "dang ky tam tru online", "Cấp Hộ Chiếu Phổ Thông",
    "Nộp Phạt Vi Phạm Giao Thông", "Trợ Cấp Thất Nghiệp", "Bảo Hiểm Xã Hội Tự Nguyện", "hoàn thuế thu nhập cá nhân",
    "Cấp Giấy Chứng Nhận Quyền Sử Dụng Đất", "Đăng Ký Xe Máy", "Chuyển Trường Cho Học Sinh", "Hỗ Trợ Người Có Công",
    "Cấp Đổi Thẻ Bảo Hiểm Y Tế", "Đăng Ký Kinh Doanh Hộ Cá Thể", "thay đổi tên trong giấy khai sinh",
    "Trích Lục Khai Tử", "Cấp Bản Sao Giấy Khai Sinh", "Xin Giấy Phép Xây Dựng", "Gia Hạn Visa", "Công Chứng Hợp Đồng",
]  # fmt: skip
# a few searches name a person after a title or field word, as a citizen looking up a dossier does
NAMED_SEARCHES = [
    "hồ sơ của ông {name}",
    "tra cứu hồ sơ bà {name}",
    "họ tên {name}",
    "người nộp {name}",
    "Khai Sinh Cho Bé {name}",
]
NAMES = [
    "Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Long", "Phạm Minh Châu", "Giáp Văn Tài", "Khổng Thị Mai",
    "Âu Dương Phong", "Thạch Văn Hùng", "Hoàng Thị Thu Hà", "Đinh Công Mạnh",
]  # fmt: skip
SEARCH_ENGINES = [
    "https://www.google.com/search?q={q}", "https://www.google.com.vn/search?q={q}&sca_esv=1&source=hp",
    "https://coccoc.com/search?query={q}", "https://www.bing.com/search?q={q}&form=QBLH",
]  # fmt: skip
OTHER_REFERRERS = [
    "https://dichvucong.gov.vn/", "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html",
    "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh.html", "https://www.facebook.com/",
    "https://l.facebook.com/", "https://zalo.me/", "https://m.youtube.com/", "https://vnexpress.net/", "-",
]  # fmt: skip
_REQUEST = re.compile(r'"(GET|POST) (\S+) HTTP/1\.1" (\d+) (\d+) "([^"]*)" "([^"]*)"')


def realistic(lines: list[str], seed: int) -> list[str]:
    """The demo's lines with varied browsers and referrers; one in six human requests becomes a search."""
    r = random.Random(seed)
    out = []
    for line in lines:
        m = _REQUEST.search(line)
        if m is None or "Nikto" in line or "sqlmap" in line or m.group(6).startswith("python"):
            out.append(line)  # attack tools keep their own user agent
            continue
        method, url, status, size, _ref, _ua = m.groups()
        ua = r.choice(BROWSERS)
        ref = r.choice(OTHER_REFERRERS)
        if r.random() < 0.3:
            ref = r.choice(SEARCH_ENGINES).format(q=quote_plus(r.choice(SEARCH_TERMS) + " dịch vụ công"))
        if method == "GET" and r.random() < 1 / 6:
            if r.random() < 0.03:
                term = r.choice(NAMED_SEARCHES).format(name=r.choice(NAMES))
            else:
                term = r.choice(SEARCH_TERMS)
            url = f"/tim-kiem?tu-khoa={quote_plus(term)}&page={r.randint(1, 3)}"
        new = f'"{method} {url} HTTP/1.1" {status} {size} "{ref}" "{ua}"'
        out.append(line[: m.start()] + new + line[m.end() :])
    return out


def make_log(path: Path, lines: int) -> int:
    written, seed = 0, 1
    with path.open("w", encoding="utf-8") as f:
        while written < lines:
            day = generate(seed=seed, sessions=20000)
            chunk = realistic(day.access_lines[: lines - written], seed)
            f.write("\n".join(chunk) + "\n")
            written += len(chunk)
            seed += 1
    return written


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def floor(path: Path, work: Path) -> tuple[float, float]:
    """Raw lines into SQLite: a primary key and one FTS5 row each, batches in transactions. (lines/s, per CPU-s)."""
    db = sqlite3.connect(work / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE lines (id TEXT PRIMARY KEY, line TEXT) WITHOUT ROWID")
    db.execute("CREATE VIRTUAL TABLE lines_fts USING fts5(line, content='')")
    started, cpu = time.perf_counter(), time.process_time()
    n = 0
    with path.open("rb") as f:
        while True:
            chunk = [ln.decode("utf-8", "replace") for ln in (f.readline() for _ in range(BATCH)) if ln]
            if not chunk:
                break
            db.execute("BEGIN")
            rows = [(f"{n + i:016x}", ln) for i, ln in enumerate(chunk)]
            db.executemany("INSERT OR IGNORE INTO lines VALUES (?, ?)", rows)
            db.executemany(
                "INSERT INTO lines_fts(rowid, line) VALUES (?, ?)", ((n + i, ln) for i, ln in enumerate(chunk))
            )
            db.execute("COMMIT")
            n += len(chunk)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    return n / seconds, n / cpu


def stages(path: Path, work: Path, limit: int) -> tuple[dict[str, tuple[float, float]], list[dict]]:
    """Wall and CPU microseconds per line of each pipeline stage, in this process, over the first ``limit`` lines.

    The name tagger's model is loaded first (once per process, not per line), and the loaded heap is settled
    as ``sentinel ingest`` and the workers settle theirs (``settle_heap``): otherwise a full collection of
    the rules, policy and classifier falls due in whichever stage runs then (the parse, whose events pile
    up) and is charged to it."""
    from sentinel.classify.recognizers import _tagged_people
    from sentinel.collect.parsers import parse_line
    from sentinel.config import load_settings
    from sentinel.ingest.assemble import build_pipeline
    from sentinel.ingest.stream import iter_lines
    from sentinel.runtime import Runtime, settle_heap

    _tagged_people("Bà Giáp Thu Ngân nộp hồ sơ")
    runtime = Runtime(load_settings(env={"SENTINEL_DATA_DIR": str(work / "stages")}))
    store = runtime.open_store()
    pipeline = build_pipeline(runtime, store)
    settle_heap()
    enrich, protect = pipeline.transforms if len(pipeline.transforms) == 2 else (None, pipeline.transforms[0])
    spent = dict.fromkeys(("parse", "address plan", "protection", "store", "detection"), 0.0)
    cpu = dict.fromkeys(spent, 0.0)
    protected: list[dict] = []
    n = 0
    source = str(path.resolve())
    with path.open("rb") as f:
        batch: list[tuple[int, bytes]] = []
        for item in iter_lines(f):
            batch.append(item)
            if len(batch) == BATCH or n + len(batch) >= limit:
                marks = [(time.perf_counter(), time.process_time())]
                events = [parse_line(line, source=source, position=off) for off, line in batch]
                marks.append((time.perf_counter(), time.process_time()))
                if enrich is not None:
                    events = [enrich(e) for e in events]
                marks.append((time.perf_counter(), time.process_time()))
                events = [protect(e) for e in events]
                protected.extend(events)
                marks.append((time.perf_counter(), time.process_time()))
                result = store.append_events(events)
                marks.append((time.perf_counter(), time.process_time()))
                pipeline.detector.process(result.stored)
                marks.append((time.perf_counter(), time.process_time()))
                for name, (a, b) in zip(spent, itertools.pairwise(marks), strict=True):
                    spent[name] += b[0] - a[0]
                    cpu[name] += b[1] - a[1]
                n += len(batch)
                batch = []
                if n >= limit:
                    break
    store.close()
    return {k: (v / n * 1e6, cpu[k] / n * 1e6) for k, v in spent.items()}, protected


def store_steps(events: list[dict], work: Path) -> dict[str, float]:
    """CPU microseconds per event of each step of the embedded store's append, on protected events.

    The same steps as ``SQLiteStore.append_events``, timed apart, on the connection it appends with
    (its writer's page cache): de-duplication within the batch and against the store, hot-field
    extraction (indexed columns and the full-text body, a text the line holds left out), JSON, the
    row insert and the FTS5 insert (one transaction per batch).
    """
    from sentinel.store.base import unique_by_event_id
    from sentinel.store.sqlite import (
        FILL_SPLIT,
        INSERT_EVENT,
        NO_SPLIT,
        SQLiteStore,
        _existing,
        _ts_ms,
        split_cells,
        stored_fields,
    )

    store = SQLiteStore(work / "steps.db")
    conn = store._writer()
    names = ("dedupe", "hot fields + FTS text", "JSON (orjson)", "row insert", "FTS5 insert", "commit")
    spent = dict.fromkeys(names, 0.0)
    for start in range(0, len(events), BATCH):
        clock = [time.process_time()]
        batch, _ = unique_by_event_id(events[start : start + BATCH])
        conn.execute("BEGIN IMMEDIATE")
        for eid in _existing(conn, list(batch)):
            del batch[eid]
        clock.append(time.process_time())
        cells = [(eid, _ts_ms(doc), stored_fields(doc), split_cells(doc)) for eid, doc in batch.items()]
        clock.append(time.process_time())
        blobs = [orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS) for doc in batch.values()]
        clock.append(time.process_time())
        first = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0] + 1
        rows = [
            (eid, ts, *fields, *(split or NO_SPLIT), blob)
            for (eid, ts, (fields, _), split), blob in zip(cells, blobs, strict=True)
        ]
        conn.executemany(INSERT_EVENT, rows)
        conn.executemany(FILL_SPLIT, [(eid,) for eid, _, _, split in cells if split is None])
        clock.append(time.process_time())
        conn.executemany(
            "INSERT INTO events_fts(rowid, body) VALUES (?, ?)", ((first + i, c[2][1]) for i, c in enumerate(cells))
        )
        clock.append(time.process_time())
        conn.execute("COMMIT")
        clock.append(time.process_time())
        for name, (a, b) in zip(names, itertools.pairwise(clock), strict=True):
            spent[name] += b - a
    store.close()
    return {k: v / len(events) * 1e6 for k, v in spent.items()}


def split(path: Path, work: Path, workers: int) -> tuple[float, float, float, int]:
    """``ingest_streams`` in this process with ``workers``: (seconds, this process's CPU s, the workers' CPU s, lines).

    What ``sentinel ingest`` does once its pipeline is built, apart: this process reads, stores, raises
    the alerts and correlates (the one writer, one timeline); it and the ``workers - 1`` worker
    processes parse, protect, encode and match the single-event rules, this one whenever it would
    otherwise wait. On an idle machine the wall time is bounded below by the sum of both over the cores.
    """
    import resource

    from sentinel.config import load_settings
    from sentinel.ingest import build_pipeline, ingest_streams
    from sentinel.runtime import Runtime, settle_heap

    runtime = Runtime(load_settings(env={"SENTINEL_DATA_DIR": str(work / f"split-{workers}")}))
    store = runtime.open_store()
    pipeline = build_pipeline(runtime, store, workers=workers)
    settle_heap()
    before, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with path.open("rb") as f:
        counts = ingest_streams(pipeline, [(str(path.resolve()), f)], batch_size=BATCH)
    pipeline.finish()
    pipeline.close()  # the workers end here, so their CPU is counted
    seconds = time.perf_counter() - started
    after, children_after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    store.close()
    main = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    kids = children_after.ru_utime + children_after.ru_stime - children.ru_utime - children.ru_stime
    return seconds, main, kids, counts.read


def end_to_end(
    path: Path, work: Path, workers: int | None, tree: Path | None = None
) -> tuple[float, float, float, str]:
    """``sentinel ingest FILE`` in a fresh data directory: (seconds, CPU seconds, peak MB, its summary line).

    ``tree``: run the ``sentinel`` package of that checkout instead (the baseline: an earlier commit).
    """
    data = work / f"e2e-{workers}-{tree is not None}"
    shutil.rmtree(data, ignore_errors=True)
    env = {**os.environ, "SENTINEL_DATA_DIR": str(data)}
    cmd = [str(Path(sys.executable).with_name("sentinel")), "ingest", str(path)]
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        cmd = [sys.executable, "-c", "from sentinel.cli.main import main; main()", "ingest", str(path)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    started = time.perf_counter()
    with (work / "out.txt").open("w+") as out, (work / "err.txt").open("w+") as err:
        # from the tree's own folder: `python -c` puts the working folder first on the module path
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=tree)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"sentinel ingest failed ({proc.returncode}): {err.read().strip()[-2000:]}")
        summary = out.read().strip().splitlines()[-1]
    # Linux reports kB: the command's peak, or its largest worker's; CPU of the command and its workers
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--stage-lines", type=int, default=20_000)
    parser.add_argument("--workers", default="", help="comma-separated worker counts for `sentinel ingest` (e.g. 1,2)")
    parser.add_argument("--keep", help="write the generated log here and keep it")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="a checkout of an earlier commit (git worktree add DIR COMMIT): its `sentinel ingest` runs first",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    try:
        path = Path(args.keep) if args.keep else work / "portal.log"
        n = make_log(path, args.lines)
        print(f"{n:,} lines, {path.stat().st_size / 1e6:.1f} MB; {os.cpu_count()} cores; {load()}")
        rate, floor_cpu = floor(path, work)
        print(
            f"floor (raw lines, primary key + FTS5 row): {rate:,.0f} lines/s, {floor_cpu:,.0f} per CPU-second   "
            f"[{load()}]"
        )
        per, protected = stages(path, work, min(args.stage_lines, n))
        done = len(protected)
        wall = sum(w for w, _ in per.values())
        cpu = sum(c for _, c in per.values())
        print(f"stages over {done:,} lines, µs per line (wall / CPU)   [{load()}]")
        for k, (w, c) in per.items():
            print(f"  {k:<14} {w:8.1f} {c:8.1f}  ({c / cpu:5.1%} of CPU)")
        print(
            f"  {'sum':<14} {wall:8.1f} {cpu:8.1f}  = {1e6 / wall:,.0f} lines/s wall, {1e6 / cpu:,.0f} per CPU-second"
        )
        steps = store_steps(protected, work)
        print(f"store steps on the same {done:,} protected events, CPU µs per event   [{load()}]")
        for k, v in steps.items():
            print(f"  {k:<24} {v:8.1f}")
        print(f"  {'sum':<24} {sum(steps.values()):8.1f}")
        counts = [int(w) for w in args.workers.split(",") if w] or [None]
        print(f"in this process, the pipeline built (CPU µs per line: this process / the workers)   [{load()}]")
        for w in [c for c in counts if c is not None]:
            seconds, main, kids, read = split(path, work, w)
            per_main, per_kids = main / read * 1e6, kids / read * 1e6
            # the work shared out between min(w, 2) busy cores
            bound = min(w, 2) * 1e6 / (per_main + per_kids)
            print(
                f"  workers {w}: {seconds:.1f} s = {read / seconds:,.0f} lines/s; {per_main:6.1f} / {per_kids:6.1f}"
                f" = {per_main + per_kids:6.1f} µs per line; on 2 idle cores at most {bound:,.0f} lines/s   [{load()}]"
            )
        results = {}
        if args.baseline_tree is not None:
            seconds, cpu_s, peak, summary = end_to_end(path, work, None, args.baseline_tree)
            print(
                f"baseline ({args.baseline_tree}) sentinel ingest: {seconds:.1f} s = {n / seconds:,.0f} lines/s; "
                f"{cpu_s:.1f} CPU s = {n / cpu_s:,.0f} lines per CPU-second; peak {peak:.0f} MB   [{load()}]\n"
                f"    {summary}"
            )
        for w in counts:
            seconds, cpu_s, peak, summary = end_to_end(path, work, w)
            results[w] = seconds
            label = "sentinel ingest" + (f" --workers {w}" if w is not None else "")
            print(
                f"{label}: {seconds:.1f} s = {n / seconds:,.0f} lines/s ({rate / (n / seconds):.1f}x the floor); "
                f"{cpu_s:.1f} CPU s = {n / cpu_s:,.0f} lines per CPU-second ({floor_cpu / (n / cpu_s):.1f}x); peak {peak:.0f} MB   [{load()}]\n"
                f"    {summary}"
            )
        if 1 in results and 2 in results:  # one process alone against two sharing the work
            print(f"speed-up 1 -> 2 workers: {results[1] / results[2]:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
