"""``sentinel policy check``: does a repository respect the data policy?

Scans data files, fixtures, log samples and schema declarations (the
policy's ``repository.include`` globs) and reports:

- **PD001 uncovered-field**: a field (CSV column, JSON key, schema property,
  SQL column) holds personal data -- by its sampled values or by its name --
  and no ``fields`` rule of the policy covers it, so ingest, export and the
  API would not know how to treat it;
- **PD002 unmasked-personal-data**: a file holds raw personal data of an
  entity the policy forbids there (not a pseudonym, mask or generalisation);
- **PD003 policy-inconsistent**: the policy itself is invalid or contradicts
  itself;
- **PD004 unreadable-file** (warning): a file could not be read or parsed;
  reported, never skipped silently.

Speed: a file larger than ``repository.sample_bytes`` is sampled (head,
middle, tail); free text goes through the candidate pass
(:mod:`sentinel.policy.candidates`) before the recognisers; fields are
classified by the classifier's :class:`~sentinel.classify.fields.FieldClassifier`
only when a value is a candidate or the name suggests personal data; files are
spread over processes.
"""

from __future__ import annotations

import bisect
import csv
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from sentinel.content import ContentError
from sentinel.policy.candidates import candidate_lines, prefilter_for
from sentinel.policy.model import LoadedPolicy, consistency_problems, load_policy
from sentinel.policy.operators import TOKEN, province_of
from sentinel.records import RowReader, Segment, delimiter_of, format_of, json_records, read_segments

RULES = {
    "PD001": ("uncovered-field", "error", "A field holds personal data that no policy field rule covers"),
    "PD002": ("unmasked-personal-data", "error", "A file holds unmasked personal data the policy forbids there"),
    "PD003": ("policy-inconsistent", "error", "The data policy is invalid or contradicts itself"),
    "PD004": ("unreadable-file", "warning", "A file could not be read or parsed"),
}
MAX_VALUES_PER_FIELD = 12  # sampled values classified per field (values that may hold something first)
MAX_KEPT_PER_FIELD = 300  # values kept per field to choose them from
MAX_WORD_LINES = 400  # lines with a word of a word-based entity analysed per file
MAX_RECORDS_PER_SEGMENT = 100  # records parsed from each sampled part of a data file
MAX_TEXT_LINES = 2000  # candidate lines analysed per file
MAX_HITS_PER_FILE = 20  # enough to report; the rest is "at least"
TEXT_BATCH_LINES = 32
LAYOUT_MISSES = 3  # lines of one layout analysed without a hit before that layout is skipped in a file
SMALL_RUN = 64  # fewer files than this are checked in-process (no pool start-up)
_SQL_COLUMNS = re.compile(r"CREATE\s+TABLE[^(]*\((.*?)\)\s*;", re.IGNORECASE | re.DOTALL)
_SQL_NAME = re.compile(r"^\s*[`\"\[]?([A-Za-z_][\w]*)", re.MULTILINE)
_SQL_KEYWORDS = {"primary", "foreign", "unique", "constraint", "check", "key", "index"}


@dataclass(frozen=True)
class Finding:
    rule: str
    path: str
    line: int | None
    message: str
    entity: str | None = None

    @property
    def level(self) -> str:
        return RULES[self.rule][1]


@dataclass
class FileResult:
    findings: list[Finding] = field(default_factory=list)
    bytes_read: int = 0
    sampled: bool = False


@dataclass
class CheckReport:
    policy: str
    findings: list[Finding]
    files: int
    bytes_read: int
    sampled_files: int
    seconds: float

    @property
    def failed(self) -> bool:
        return any(f.level == "error" for f in self.findings)

    def summary(self) -> dict[str, Any]:
        counts = {rule: sum(1 for f in self.findings if f.rule == rule) for rule in RULES}
        return {
            "policy": self.policy,
            "files": self.files,
            "bytes_read": self.bytes_read,
            "sampled_files": self.sampled_files,
            "seconds": round(self.seconds, 3),
            "findings": counts,
            "passed": not self.failed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "findings": [asdict(f) for f in self.findings]}


# -- which files --------------------------------------------------------------------------
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A repository glob (``**`` crosses folders, ``*`` does not) as a regex over posix paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _matcher(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{glob_regex(p).pattern})" for p in patterns))


def iter_files(paths: list[Path], loaded: LoadedPolicy, root: Path) -> Iterator[Path]:
    """Files to check: given files as they are, folders walked for the include globs minus the excludes."""
    repo = loaded.policy.repository
    include, exclude = _matcher(repo.include), _matcher(repo.exclude)
    for top in paths:
        if top.is_file():
            yield top
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = _rel(Path(dirpath), root)
            prefix = "" if rel_dir == "." else rel_dir + "/"
            if exclude is not None:
                dirnames[:] = [d for d in dirnames if not exclude.match(f"{prefix}{d}/")]
            dirnames.sort()
            for name in sorted(filenames):
                rel = prefix + name
                if include is not None and include.match(rel) and not (exclude is not None and exclude.match(rel)):
                    yield Path(dirpath) / name


def _rel(path: Path, root: Path) -> str:
    try:
        return path.absolute().relative_to(root).as_posix()  # not resolved: a symlink is named as itself
    except ValueError:
        return path.as_posix()


# -- the checker -------------------------------------------------------------------------------
class Checker:
    """Checks one file at a time against a loaded policy (one per process)."""

    def __init__(self, loaded: LoadedPolicy, root: Path) -> None:
        from sentinel.classify import FieldClassifier, load_catalog

        self.loaded, self.root = loaded, root
        repo = loaded.policy.repository
        self.repo = repo
        self.covered = loaded.field_entities()
        self.classifier = FieldClassifier(loaded.classifiers_dir)
        self.personal = set(loaded.categories)
        catalog = load_catalog(loaded.classifiers_dir)
        # entities the candidate pass can find in free text (pattern and predefined recognisers)
        pattern_entities = {
            s.entity
            for s in catalog.recognizers.recognizers
            if s.patterns or s.predefined in ("EmailRecognizer", "CreditCardRecognizer")
        }
        self.text_entities = sorted(set(repo.forbid) & pattern_entities)
        # names, addresses and sensitive terms in free text: lines holding one of their words are analysed
        word_entities = {s.entity for s in catalog.recognizers.recognizers if s.terms or s.builtin} - pattern_entities
        self.word_entities = sorted(set(repo.forbid) & word_entities)
        self.words = prefilter_for(frozenset(self.word_entities), loaded.classifiers_dir)
        self.allow = [(_matcher(rule.paths), set(rule.entities)) for rule in repo.allow]

    # -- helpers
    def covered_entity(self, name: str) -> str | None:
        return self.loaded.entity_of(name, self.covered)

    def allowed(self, rel: str, entity: str) -> bool:
        """Whether an ``allow`` rule expects raw ``entity`` values at ``rel`` (synthetic data, say)."""
        return any(rx is not None and rx.match(rel) and (not ents or entity in ents) for rx, ents in self.allow)

    def forbidden(self, rel: str, entity: str) -> bool:
        return entity in self.repo.forbid and not self.allowed(rel, entity)

    # -- entry point
    def check_file(self, path: Path) -> FileResult:
        rel = _rel(path, self.root)
        result = FileResult()
        if any(rx is not None and rx.match(rel) and not ents for rx, ents in self.allow):
            return result  # every entity is expected here: nothing to find
        try:
            segments, result.bytes_read, result.sampled = read_segments(path, self.repo.sample_bytes)
        except OSError as exc:
            result.findings.append(Finding("PD004", rel, None, f"cannot read: {exc.strerror}"))
            return result
        fmt = format_of(path.name)
        try:
            if fmt == "csv":
                self._csv(rel, path.name, segments, result)
            elif fmt == "jsonl":
                self._jsonl(rel, segments, result)
            elif fmt == "json":
                self._json(rel, segments, result)
            else:
                if fmt == "sql":
                    self._sql_schema(rel, segments, result)
                self._text(rel, segments, result)
        except (RecursionError, ValueError, csv.Error) as exc:
            result.findings.append(Finding("PD004", rel, None, f"cannot parse ({type(exc).__name__}); checked as text"))
            self._text(rel, segments, result)
        return result

    # -- structured data
    def _csv(self, rel: str, name: str, segments: list[Segment], result: FileResult) -> None:
        lines = segments[0].data.decode("utf-8-sig", "replace").splitlines(keepends=True)
        if not lines:
            return
        reader = RowReader("csv", delimiter_of(lines[0], name))
        records: list[tuple[int | None, dict[str, Any]]] = []
        for seg in segments:
            text = lines if seg is segments[0] else seg.data.decode("utf-8", "replace").splitlines(keepends=True)
            rows = reader.rows(text[: MAX_RECORDS_PER_SEGMENT + (seg is segments[0])], seg.first_line)
            records += [(row.line, row.record) for row in rows if row.record is not None]
        self._fields(rel, reader.header, records, result)

    def _jsonl(self, rel: str, segments: list[Segment], result: FileResult) -> None:
        records: list[tuple[int | None, dict[str, Any]]] = []
        other: list[Segment] = []
        reader = RowReader("jsonl")
        for seg in segments:
            lines = seg.data.decode("utf-8", "replace").splitlines()[:MAX_RECORDS_PER_SEGMENT]
            for row in reader.rows(lines, seg.first_line):
                if row.record is not None:
                    records.append((row.line, row.record))
                else:
                    other.append(Segment(row.text.encode(), row.line))
        if other:
            self._text(rel, other, result)
        self._fields(rel, None, records, result)

    def _json(self, rel: str, segments: list[Segment], result: FileResult) -> None:
        if len(segments) > 1:  # too large to parse: its sample is checked as text
            self._text(rel, segments, result)
            return
        try:
            doc = orjson.loads(segments[0].data)
        except orjson.JSONDecodeError:
            self._jsonl(rel, segments, result)  # JSON lines saved as .json
            return
        names = _schema_names(doc)
        if names is not None:
            self._schema(rel, names, result)
            return
        self._fields(rel, None, [(None, r) for r in json_records(doc)], result)

    def _fields(
        self, rel: str, header: list[str] | None, records: list[tuple[int | None, dict[str, Any]]], result: FileResult
    ) -> None:
        from sentinel.classify import iter_fields

        values: dict[str, list[tuple[int | None, str]]] = {name: [] for name in header or []}
        for line, record in records:
            for path, value in iter_fields(record):
                bucket = values.setdefault(path, [])
                if value is not None and len(bucket) < MAX_KEPT_PER_FIELD:
                    text = value if isinstance(value, str) else orjson.dumps(value).decode()
                    if text.strip():
                        bucket.append((line, text))
        for name, items in values.items():
            self._field(rel, name, items, result)

    def _field(self, rel: str, name: str, items: list[tuple[int | None, str]], result: FileResult) -> None:
        covered = self.covered_entity(name)
        if covered is not None:
            if self.forbidden(rel, covered):
                raw = [(line, v) for line, v in items if not is_protected(covered, v, self.loaded.classifiers_dir)]
                if raw:
                    result.findings.append(_unmasked(rel, raw[0][0], name, covered, len(raw), len(items)))
            return
        hinted = self.classifier.hints.entities(name)
        ranks = self._promise([v for _, v in items])
        if not hinted and not any(ranks):
            return
        # values that may hold something first, sensitive words before the rest: one disease in a notes
        # column of 300 rows is not missed
        order = sorted(range(len(items)), key=lambda i: -ranks[i])
        items = [items[i] for i in order[:MAX_VALUES_PER_FIELD]]
        report = self.classifier.classify_field(name, [v for _, v in items])
        entities = [e.type for e in report.entities if e.type in self.personal and not self.allowed(rel, e.type)]
        if not entities:
            return
        first_line = next((line for line, _ in items), None)
        how = "by its name" if report.non_empty == 0 else f"in {report.non_empty} sampled values"
        result.findings.append(
            Finding(
                "PD001",
                rel,
                first_line,
                f"field {name!r} holds {', '.join(entities)} ({how}) but no policy field rule covers it; "
                f"add {name!r} to the `names` of the {entities[0]} rule under `fields:` in {self.loaded.path.name}",
                entities[0],
            )
        )
        for finding in report.entities:
            entity = finding.type
            if entity not in entities or not self.forbidden(rel, entity) or not report.non_empty:
                continue
            raw = [(line, v) for line, v in items if not is_protected(entity, v, self.loaded.classifiers_dir)]
            if raw:
                held = min(len(raw), max(1, round(finding.ratio * report.non_empty)))
                result.findings.append(_unmasked(rel, raw[0][0], name, entity, held, len(items)))

    def _promise(self, values: list[str]) -> list[int]:
        """Per value: 2 with a word of a sensitive entity, 1 with an identifier's shape or another word, else 0.

        One candidate pass and one word pass over the values joined line by line, not one per value.
        """
        text = "\n".join(v.replace("\n", " ") for v in values)
        starts = [0]
        for v in values[:-1]:
            starts.append(starts[-1] + len(v) + 1)
        ranks = [0] * len(values)
        encoded = text.encode()
        if len(encoded) == len(text):  # ASCII: byte offsets are character offsets
            for c in candidate_lines(encoded):
                ranks[_index(starts, c.start)] = 1
        else:
            byte_starts = [len(s.encode()) for s in text.split("\n")]
            offsets = [0]
            for n in byte_starts[:-1]:
                offsets.append(offsets[-1] + n + 1)
            for c in candidate_lines(encoded):
                ranks[_index(offsets, c.start)] = 1
        for start, entities in self.words.word_lines(text).items():
            k = _index(starts, start)
            sensitive = any(self.loaded.sensitivity(e) == "sensitive" for e in entities)
            ranks[k] = max(ranks[k], 2 if sensitive else 1)
        return ranks

    # -- schemas
    def _schema(self, rel: str, names: list[str], result: FileResult) -> None:
        for name in names:
            if self.covered_entity(name) is None:
                hinted = [
                    e for e in self.classifier.hints.entities(name) if e in self.personal and not self.allowed(rel, e)
                ]
                if hinted:
                    result.findings.append(
                        Finding(
                            "PD001",
                            rel,
                            None,
                            f"schema declares {name!r}, which by its name holds {', '.join(hinted)}, but no policy "
                            f"field rule covers it; add it under `fields:` in {self.loaded.path.name}",
                            hinted[0],
                        )
                    )

    def _sql_schema(self, rel: str, segments: list[Segment], result: FileResult) -> None:
        text = segments[0].data.decode("utf-8", "replace")
        names = []
        for body in _SQL_COLUMNS.findall(text):
            names += [n for n in _SQL_NAME.findall(body.replace(",", "\n")) if n.lower() not in _SQL_KEYWORDS]
        self._schema(rel, names, result)

    # -- free text
    def _word_hits(self, rel: str, segments: list[Segment], hits: dict[str, list[int | None]]) -> None:
        """Names, addresses and sensitive terms in free text: the lines holding one of their words, analysed."""
        from sentinel.classify import analyze_text

        if not self.word_entities:
            return
        for seg in segments:
            text = seg.data.decode("utf-8", "replace")
            lines = self.words.word_lines(text)
            starts = sorted(lines)[: MAX_WORD_LINES // len(segments)]
            numbers: list[int | None] = []
            number, counted = seg.first_line, 0
            for start in starts:
                if number is not None:
                    number, counted = number + text.count("\n", counted, start), start
                numbers.append(number)
            for b in range(0, len(starts), TEXT_BATCH_LINES):  # one analysis per batch of lines
                batch = starts[b : b + TEXT_BATCH_LINES]
                texts = [text[s : (e if (e := text.find("\n", s)) >= 0 else len(text))] for s in batch]
                offsets = [0]
                for t in texts[:-1]:
                    offsets.append(offsets[-1] + len(t) + 1)
                wanted = sorted(set().union(*(lines[s] for s in batch)))
                for span in analyze_text(
                    "\n".join(texts),
                    entities=wanted,
                    score_threshold=self.repo.min_score,
                    classifiers_dir=self.loaded.classifiers_dir,
                ):
                    if not TOKEN.search(span.text) and self.forbidden(rel, span.type):
                        hits.setdefault(span.type, []).append(numbers[b + _index(offsets, span.start)])
                if sum(len(v) for v in hits.values()) >= MAX_HITS_PER_FILE:
                    return

    def _text(self, rel: str, segments: list[Segment], result: FileResult) -> None:
        from sentinel.classify import analyze_text

        hits: dict[str, list[int | None]] = {}
        self._word_hits(rel, segments, hits)
        misses: dict[bytes, int] = {}  # candidate layout -> its lines analysed without a hit
        for seg in segments:
            # each sampled part gets its share, so a busy head cannot starve the tail
            if not self.text_entities:
                break
            todo = list(islice(candidate_lines(seg.data), MAX_TEXT_LINES // len(segments)))
            while todo and sum(len(v) for v in hits.values()) < MAX_HITS_PER_FILE:
                batch, pending, rest = [], dict(misses), []
                for c in todo:  # at most LAYOUT_MISSES lines of a layout until one of them holds something
                    if misses.get(c.layout, 0) >= LAYOUT_MISSES:
                        continue  # that many of its lines held nothing: the layout is not read further
                    if len(batch) < TEXT_BATCH_LINES and pending.get(c.layout, 0) < LAYOUT_MISSES:
                        batch.append(c)
                        pending[c.layout] = pending.get(c.layout, 0) + 1
                    else:
                        rest.append(c)  # a later batch, if this one's lines of the layout hold something
                if not batch:
                    break
                todo = rest
                texts = [seg.data[c.start : c.end].decode("utf-8", "replace") for c in batch]
                starts = [0]
                for t in texts[:-1]:
                    starts.append(starts[-1] + len(t) + 1)
                hit_lines = set()
                for span in analyze_text(
                    "\n".join(texts),
                    entities=self.text_entities,
                    score_threshold=self.repo.min_score,
                    classifiers_dir=self.loaded.classifiers_dir,
                ):
                    if TOKEN.search(span.text) or not self.forbidden(rel, span.type):
                        continue
                    k = _index(starts, span.start)
                    hit_lines.add(k)
                    line = seg.first_line + seg.data.count(b"\n", 0, batch[k].start) if seg.first_line else None
                    hits.setdefault(span.type, []).append(line)
                for k, c in enumerate(batch):
                    misses[c.layout] = 0 if k in hit_lines else misses.get(c.layout, 0) + 1
        for entity, lines_hit in hits.items():
            n = len(lines_hit)
            count = f"at least {MAX_HITS_PER_FILE}" if n >= MAX_HITS_PER_FILE else str(n)
            result.findings.append(
                Finding(
                    "PD002",
                    rel,
                    lines_hit[0],
                    f"{count} unmasked {entity} value(s) in text; pseudonymise or mask them "
                    f"(`sentinel anonymize`), or allow this path under `repository.allow` with a reason",
                    entity,
                )
            )


def _index(starts: list[int], pos: int) -> int:
    return bisect.bisect_right(starts, pos) - 1


def _unmasked(rel: str, line: int | None, name: str, entity: str, n: int, of: int) -> Finding:
    return Finding(
        "PD002",
        rel,
        line,
        f"field {name!r} holds {n} unmasked {entity} value(s) of {of} sampled; store pseudonyms or masks "
        f"(`sentinel anonymize`), or allow this path under `repository.allow` with a reason",
        entity,
    )


_MASKED = re.compile(r"^[*xX#•]+.{0,8}$|^<[A-Z_]+>$|^\[[A-Z_ ]+\]$")


def is_protected(entity: str, value: str, classifiers_dir: Path) -> bool:
    """Whether a value is already a pseudonym, an encrypted token, a mask or a generalisation."""
    v = value.strip()
    if not v or TOKEN.fullmatch(v) or _MASKED.match(v):
        return True
    if entity == "DATE_OF_BIRTH" and re.fullmatch(r"(19|20)\d\d", v):
        return True
    return entity == "LOCATION" and province_of(v, classifiers_dir) == v


def _schema_names(doc: Any) -> list[str] | None:
    """Field names declared by a JSON Schema, an OpenAPI document or an Elasticsearch mapping; None if not one."""
    if not isinstance(doc, dict):
        return None
    is_schema = "$schema" in doc or "openapi" in doc or "mappings" in doc or "properties" in doc
    if not is_schema:
        return None
    names: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                for key, sub in props.items():
                    names.append(prefix + key)
                    walk(sub, prefix + key + ".")
            for key, sub in node.items():
                if key != "properties" and isinstance(sub, dict | list):
                    walk(sub, prefix)
        elif isinstance(node, list):
            for item in node:
                walk(item, prefix)

    walk(doc, "")
    return names


# -- running ----------------------------------------------------------------------------------
_worker: Checker | None = None


def _init_worker(policy_path: str, classifiers_dir: Path, root: str) -> None:
    global _worker
    _worker = Checker(load_policy(policy_path, strict=False, classifiers_dir=classifiers_dir), Path(root))


def _check_chunk(paths: list[str]) -> list[FileResult]:
    assert _worker is not None
    return [_worker.check_file(Path(p)) for p in paths]


@lru_cache(maxsize=1)
def _default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def policy_findings(policy_file: Path, classifiers_dir: Path) -> tuple[LoadedPolicy | None, list[Finding]]:
    """Load the policy for checking: PD003 findings for every problem, and the policy if it can be used."""
    from sentinel.identity import ROLES

    try:
        loaded = load_policy(policy_file, strict=False, classifiers_dir=classifiers_dir)
    except ContentError as exc:
        return None, [Finding("PD003", exc.file, exc.line, exc.reason)]
    return loaded, [Finding("PD003", str(policy_file), p.line, p.message) for p in consistency_problems(loaded, ROLES)]


def run_check(
    paths: list[Path],
    policy_file: Path,
    *,
    jobs: int | None = None,
    classifiers_dir: Path,
    root: Path | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> CheckReport:
    """Check ``paths`` against the policy in ``policy_file`` with the recognizers of ``classifiers_dir``.

    ``progress(files_done, files_total)`` is called as files are checked.
    """
    started = time.monotonic()
    root = (root or Path.cwd()).absolute()
    loaded, findings = policy_findings(policy_file, classifiers_dir)
    if loaded is None:
        return CheckReport(str(policy_file), findings, 0, 0, 0, time.monotonic() - started)
    files = [str(p) for p in iter_files(paths, loaded, root)]
    jobs = jobs or _default_jobs()
    results: list[FileResult] = []
    if jobs == 1 or len(files) < SMALL_RUN:
        checker = Checker(loaded, root)
        for p in files:
            results.append(checker.check_file(Path(p)))
            if progress is not None:
                progress(len(results), len(files))
    else:
        size = max(1, min(64, len(files) // (jobs * 8) or 1))
        chunks = [files[i : i + size] for i in range(0, len(files), size)]
        with ProcessPoolExecutor(
            jobs, initializer=_init_worker, initargs=(str(policy_file), classifiers_dir, str(root))
        ) as pool:
            for chunk_results in pool.map(_check_chunk, chunks):
                results.extend(chunk_results)
                if progress is not None:
                    progress(len(results), len(files))
    for r in results:
        findings.extend(r.findings)
    return CheckReport(
        policy=str(policy_file),
        findings=findings,
        files=len(files),
        bytes_read=sum(r.bytes_read for r in results),
        sampled_files=sum(r.sampled for r in results),
        seconds=time.monotonic() - started,
    )
