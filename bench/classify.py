"""Accuracy and speed of the personal-data classifier, against stock Presidio in the same run.

Data: ``bench/data/classify`` (regenerate with ``python bench/data/classify/generate.py``) and a
held-out set written independently of the recognizers, ``bench/data/classify_holdout``: hand-written
texts (``texts.txt``, spans marked ``{ENTITY|text}``) and tables with other column names, opaque
legacy columns, offices, place-only columns and sparse notes (``make_tables.py``, labels in
``tables.json``).

Baseline: Presidio's default recognizers. Its default configuration needs the
spaCy model ``en_core_web_lg``, which cannot be installed offline, so the
baseline runs on the best offline NLP engine available: a blank English spaCy
pipeline (tokens, no NER, no lemmas). Field-level baseline: presidio-structured's
``PandasAnalysisBuilder`` (most common entity per column) when installed.

    python bench/classify.py [--quick] [--rows 1000000] [--holdout-only]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentinel.classify.analyzer import analyze_text, build_analyzer  # noqa: E402
from sentinel.classify.fields import FieldClassifier  # noqa: E402
from sentinel.classify.scan import scan_dataset  # noqa: E402
from sentinel.classify.taxonomy import load_taxonomy  # noqa: E402
from sentinel.records import sample_file  # noqa: E402

CLASSIFIERS = ROOT / "classifiers"

DATA = ROOT / "bench" / "data" / "classify"
HOLDOUT = ROOT / "bench" / "data" / "classify_holdout"
_MARK = re.compile(r"\{([A-Z_]+)\|([^{}]+)\}")
IDENTIFIERS = [
    "VN_CCCD", "VN_CMND", "VN_BHXH", "VN_MST", "VN_PHONE", "VN_PASSPORT", "VN_LICENSE_PLATE", "VN_BANK_ACCOUNT",
    "EMAIL_ADDRESS", "IP_ADDRESS", "CREDIT_CARD",
]  # fmt: skip
STOCK_MAP = {
    "PHONE_NUMBER": "VN_PHONE",
    "DATE_TIME": "DATE_OF_BIRTH",
    "US_BANK_NUMBER": "VN_BANK_ACCOUNT",
    "US_PASSPORT": "VN_PASSPORT",
    "NRP": "ETHNICITY",
}
STOCK_NON_PERSONAL = {"URL"}


def load_texts() -> list[dict]:
    items = []
    for name in ("text.jsonl", "hard_negatives.jsonl"):
        with (DATA / name).open(encoding="utf-8") as fh:
            items.extend(json.loads(line) for line in fh if line.strip())
    return items


def load_holdout_texts() -> list[dict]:
    """Texts with ``{ENTITY|text}`` marks -> plain text and span offsets."""
    items = []
    for line in (HOLDOUT / "texts.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, spans, pos = "", [], 0
        for m in _MARK.finditer(line):
            text += line[pos : m.start()]
            spans.append({"type": m.group(1), "start": len(text), "end": len(text) + len(m.group(2))})
            text += m.group(2)
            pos = m.end()
        items.append({"text": text + line[pos:], "spans": spans})
    return items


def stock_analyzer():
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries to download the suffix list
    folder = Path(tempfile.mkdtemp()) / "blank_en"
    spacy.blank("en").to_disk(folder)
    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(folder)}]}
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine())


def score_spans(gold: list[list[dict]], pred: list[list[tuple[str, int, int]]], overlap: bool) -> dict[str, list[int]]:
    """Per entity [tp, fp, fn]; one-to-one matching, exact boundaries or any overlap."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for g_spans, p_spans in zip(gold, pred, strict=True):
        used = set()
        for ptype, ps, pe in p_spans:
            hit = None
            for k, g in enumerate(g_spans):
                if k in used or g["type"] != ptype:
                    continue
                same = (g["start"], g["end"]) == (ps, pe)
                if same or (overlap and ps < g["end"] and g["start"] < pe):
                    hit = k
                    break
            if hit is None:
                counts[ptype][1] += 1
            else:
                used.add(hit)
                counts[ptype][0] += 1
        for k, g in enumerate(g_spans):
            if k not in used:
                counts[g["type"]][2] += 1
    return counts


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def micro(counts: dict[str, list[int]], types: list[str]) -> tuple[float, float, float]:
    tp = sum(counts[t][0] for t in types if t in counts)
    fp = sum(counts[t][1] for t in types if t in counts)
    fn = sum(counts[t][2] for t in types if t in counts)
    return prf(tp, fp, fn)


def text_eval(items: list[dict], stock) -> dict:
    gold = [it["spans"] for it in items]
    ours = [[(s.type, s.start, s.end) for s in analyze_text(it["text"], classifiers_dir=CLASSIFIERS)] for it in items]
    results = {"ours": ours}
    if stock is not None:
        preds = []
        for it in items:
            found = stock.analyze(text=it["text"], language="en")
            preds.append([(STOCK_MAP.get(r.entity_type, r.entity_type), r.start, r.end) for r in found])
        results["stock"] = preds
    report = {}
    for system, pred in results.items():
        strict = score_spans(gold, pred, overlap=False)
        loose = score_spans(gold, pred, overlap=True)
        report[system] = {"strict": strict, "overlap": loose}
    return report


def print_text_report(report: dict) -> None:
    systems = list(report)
    types = sorted({t for s in systems for t in report[s]["strict"]})
    print(
        "\n## Free text: precision / recall / F1 per entity (strict = exact boundaries; overlap = same type overlaps)"
    )
    header = f"{'entity':<18}" + "".join(f"{s + ' strict':>22}{s + ' overlap':>22}" for s in systems)
    print(header)
    for t in types:
        row = f"{t:<18}"
        for s in systems:
            for mode in ("strict", "overlap"):
                p, r, f = prf(*report[s][mode].get(t, [0, 0, 0]))
                row += f"{f'{p:.2f}/{r:.2f}/{f:.2f}':>22}"
        print(row)
    for label, types_ in (("identifiers", IDENTIFIERS), ("PERSON", ["PERSON"]), ("LOCATION", ["LOCATION"])):
        row = f"{label + ' (micro)':<18}"
        for s in systems:
            for mode in ("strict", "overlap"):
                p, r, f = micro(report[s][mode], types_)
                row += f"{f'{p:.2f}/{r:.2f}/{f:.2f}':>22}"
        print(row)


def stock_column_entity(stock, values: list[str]) -> str | None:
    """presidio-structured's rule without pandas: the most common entity stock Presidio finds in the values."""
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        for r in stock.analyze(text=v, language="en"):
            counts[STOCK_MAP.get(r.entity_type, r.entity_type)] += 1
    return max(counts, key=lambda e: counts[e]) if counts else None


def field_eval(stock, sample: int, data: Path = DATA) -> dict:
    labels = json.loads((data / "tables.json").read_text(encoding="utf-8"))
    taxonomy = load_taxonomy(classifiers_dir=CLASSIFIERS)
    classifier = FieldClassifier(classifiers_dir=CLASSIFIERS)
    out = {"ours": [0, 0, 0], "stock": [0, 0, 0]}  # correct category, correct entity set, total
    errors = []
    n_fields = 0
    started = time.perf_counter()
    for table in labels:
        s = sample_file(data / table["file"], size=sample)
        for rep in classifier.classify_records(s.records):
            want = table["fields"][rep.field]
            n_fields += 1
            out["ours"][2] += 1
            got_entities = sorted(e.type for e in rep.entities)
            if rep.category == want["category"]:
                out["ours"][0] += 1
            else:
                errors.append((table["file"], rep.field, want, rep.category, got_entities))
            if got_entities == sorted(want["entities"]):
                out["ours"][1] += 1
    seconds = time.perf_counter() - started
    if stock is not None:
        try:
            import pandas as pd
            from presidio_structured import PandasAnalysisBuilder
        except ImportError:
            mappings = []
            for table in labels:
                s = sample_file(data / table["file"], size=min(sample, 50))
                mappings.append(
                    {
                        name: stock_column_entity(stock, [str(r.get(name) or "") for r in s.records])
                        for name in table["fields"]
                    }
                )
        else:
            builder = PandasAnalysisBuilder(analyzer=stock)
            mappings = []
            for table in labels:
                df = pd.read_csv(data / table["file"], dtype=str, keep_default_na=False)
                mappings.append(builder.generate_analysis(df, n=min(sample, len(df)), language="en").entity_mapping)
        if mappings:
            for table, mapping in zip(labels, mappings, strict=True):
                for name, want in table["fields"].items():
                    entity = mapping.get(name)
                    ours_entity = STOCK_MAP.get(entity, entity) if entity else None
                    if ours_entity is None or ours_entity in STOCK_NON_PERSONAL:
                        category = "none"
                    elif ours_entity in taxonomy.entities:
                        category = taxonomy.category(ours_entity)
                    else:
                        category = "basic"
                    out["stock"][2] += 1
                    out["stock"][0] += category == want["category"]
                    out["stock"][1] += sorted([ours_entity] if ours_entity else []) == sorted(want["entities"])
    return {"counts": out, "errors": errors, "fields": n_fields, "seconds": seconds}


def speed_text(items: list[dict], stock, repeat: int) -> None:
    texts = [it["text"] for it in items]
    chars = sum(len(t) for t in texts) * repeat
    print("\n## Free-text speed (single process)")

    def run(label: str, fn) -> None:
        started = time.perf_counter()
        for _ in range(repeat):
            for t in texts:
                fn(t)
        sec = time.perf_counter() - started
        print(f"{label:<44} {len(texts) * repeat / sec:>9.0f} texts/s {chars / sec / 1e6:>7.2f} MB/s")

    run("ours, all entities", lambda t: analyze_text(t, classifiers_dir=CLASSIFIERS))
    run(
        "ours, identifiers only (ingest fast path)", lambda t: analyze_text(t, IDENTIFIERS, classifiers_dir=CLASSIFIERS)
    )
    logs = [f"GET /api/v1/dossiers?page={i} 200 {i % 97} ms ua=Mozilla/5.0" for i in range(len(texts))]
    started = time.perf_counter()
    for t in logs:
        analyze_text(t, ["VN_CCCD", "VN_PHONE", "EMAIL_ADDRESS"], classifiers_dir=CLASSIFIERS)
    sec = time.perf_counter() - started
    print(f"{'ours, 3 identifiers on log fields':<44} {len(logs) / sec:>9.0f} texts/s")
    if stock is not None:
        run("stock Presidio (blank spaCy en), all", lambda t: stock.analyze(text=t, language="en"))


def make_rows(n: int, seed: int = 11) -> tuple[list[str], list[list[str]]]:
    sys.path.insert(0, str(DATA))
    from generate import Gen  # type: ignore[import-not-found]

    gen = Gen(random.Random(seed))
    header = ["id", "ho_ten", "so_cccd", "so_dien_thoai", "email", "dia_chi", "ma_ho_so", "so_tien"]
    pool = [
        [
            gen.person(),
            gen.cccd(),
            gen.phone(),
            gen.email(),
            gen.address(),
            gen.dossier(),
            str(gen.r.randint(1, 999) * 1000),
        ]
        for _ in range(min(n, 5000))
    ]
    return header, [[str(i), *pool[i % len(pool)]] for i in range(n)]


def scale_test(rows: int, sample: int) -> None:
    print(f"\n## Scan wall time vs table size (sample {sample} rows; CSV and SQLite)")
    work = Path(tempfile.mkdtemp(prefix="classify-bench-"))
    for n in (10_000, rows):
        header, data = make_rows(n)
        csv_path = work / f"t{n}.csv"
        with csv_path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(data)
        db = work / f"t{n}.db"
        con = sqlite3.connect(db)
        con.execute(f"CREATE TABLE citizens ({', '.join(h + ' TEXT' for h in header)})")
        con.executemany(f"INSERT INTO citizens VALUES ({', '.join('?' * len(header))})", data)
        con.commit()
        con.close()
        del data
        for label, source in (("csv", str(csv_path)), ("sqlite", f"sqlite:///{db}")):
            started = time.perf_counter()
            result = scan_dataset(source, size=sample, classifiers_dir=CLASSIFIERS)[0]
            sec = time.perf_counter() - started
            size_mb = (csv_path if label == "csv" else db).stat().st_size / 1e6
            print(
                f"{label:<7} {n:>9,} rows ({size_mb:7.1f} MB): {sec:6.2f} s wall, "
                f"sample method {result.sample_method}, "
                f"{len(result.fields)} fields, {len(result.fields) / sec:.1f} fields/s"
            )


def print_fields(fe: dict) -> None:
    for system, (cat, ent, total) in fe["counts"].items():
        if total:
            print(
                f"{system:<6} category accuracy {cat / total:.3f} ({cat}/{total}), "
                f"entity-set accuracy {ent / total:.3f} ({ent}/{total})"
            )
    print(f"ours: {fe['fields']} fields in {fe['seconds']:.2f} s = {fe['fields'] / fe['seconds']:.1f} fields/s")
    for err in fe["errors"][:15]:
        print("  miss:", err)


def holdout(stock, sample: int) -> None:
    """The held-out set: texts and tables written independently of the recognizers."""
    items = load_holdout_texts()
    print(f"\n# Held-out set: {len(items)} texts, {sum(len(i['spans']) for i in items)} labelled spans")
    print_text_report(text_eval(items, stock))
    print("\n## Held-out tables, field level (category = sensitive/basic/none; entities = exact set)")
    print_fields(field_eval(stock, sample, HOLDOUT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="skip the baseline and the large table")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large table")
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--holdout-only", action="store_true", help="only the held-out set (with the baseline)")
    args = parser.parse_args()
    started = time.perf_counter()
    build_analyzer(classifiers_dir=CLASSIFIERS)
    print(f"analyzer built in {time.perf_counter() - started:.2f} s")
    stock = None if args.quick and not args.holdout_only else stock_analyzer()
    holdout(stock, args.sample)
    if args.holdout_only:
        return
    items = load_texts()
    print(f"{len(items)} texts, {sum(len(i['spans']) for i in items)} labelled spans")
    print_text_report(text_eval(items, stock))
    print("\n## Field level (category = sensitive/basic/none; entities = exact set)")
    print_fields(field_eval(stock, args.sample))
    speed_text(items, stock, repeat=1 if args.quick else 2)
    if not args.quick:
        scale_test(args.rows, args.sample)


if __name__ == "__main__":
    main()
