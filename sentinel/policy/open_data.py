"""Open-data release of a data file, and the risk of any table, with a report a DPO can read.

``sentinel anonymize FILE --purpose open_data`` runs :func:`release_file`:
the columns are classified on a sample (:class:`~sentinel.classify.fields.FieldClassifier`
plus the policy's field names), planned (:func:`~sentinel.policy.release.plan_columns`),
the file is read once to find the least generalisation reaching k-anonymity
and l-diversity, and a second time to write the released rows. The report
(JSON and a short text, written beside the output) says what was done to each
column, the k and l reached, the records left out, the information lost, and
the share of records unique on their quasi-identifiers before and after.

``sentinel anonymize --check FILE`` runs :func:`check_file`: the same figures
for the table as it is, changing nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from sentinel import ecs
from sentinel.classify import FieldClassifier, Taxonomy, dumps_value
from sentinel.policy.hierarchies import Generalizer
from sentinel.policy.release import ColumnPlan, Release, Risk, plan_columns
from sentinel.records import RowReader, SourceError, delimiter_of, format_of, sample_file

CLASSIFY_SAMPLE = 1000  # rows sampled to classify the columns


@dataclass
class Table:
    """A CSV or JSON-lines file read as flat records (nested JSON keys become dotted names)."""

    path: Path
    fmt: str
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)
    problems: int = 0  # lines that are not records (ragged CSV rows, non-objects in JSON lines)
    sample: list[dict[str, Any]] = field(default_factory=list)  # flat records the columns were classified on

    @classmethod
    def open(cls, path: Path) -> Table:
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
        with path.open("rb") as fh:
            head = fh.readline()
        fmt = format_of(path.name, head)
        if fmt not in ("csv", "jsonl"):
            raise SourceError(f"{path}: a release reads CSV or JSON-lines tables, not {fmt}")
        if fmt == "csv":
            line = head.decode("utf-8-sig", "replace")
            delimiter = delimiter_of(line, path.name)
            return cls(path, fmt, delimiter, next(csv.reader([line], delimiter=delimiter), []))
        return cls(path, fmt)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, flat, values as text; counts the lines that are not records."""
        self.problems = 0
        reader = RowReader(self.fmt, self.delimiter)
        with self.path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            for row in reader.rows(fh):
                if row.record is None or row.problem is not None:
                    self.problems += 1
                    continue
                flat = ecs.flatten(row.record) if self.fmt == "jsonl" else row.record
                yield {k: ("" if v is None else dumps_value(v)) for k, v in flat.items()}

    def writer(self, out: IO[str], columns: list[str]) -> Callable[[dict[str, Any]], None]:
        """A function writing one released record in the input's format."""
        if self.fmt == "csv":
            w = csv.writer(out, delimiter=self.delimiter, lineterminator="\n")
            w.writerow(columns)
            return lambda rec: w.writerow([rec.get(c, "") for c in columns])
        return lambda rec: out.write(orjson.dumps({c: rec.get(c) for c in columns}).decode() + "\n")


def plan_table(
    table: Table, classifier: FieldClassifier, taxonomy: Taxonomy, named: Callable[[str], str | None]
) -> list[ColumnPlan]:
    """Classify a sample of the table and give each column its role and action.

    A JSON key that the sample did not show has no plan and is not released.
    """
    records = sample_file(table.path, size=CLASSIFY_SAMPLE).records
    table.sample = [ecs.flatten(r) for r in records] if table.fmt == "jsonl" else records
    reports = {r.field: r for r in classifier.classify_records(table.sample)}
    if not table.columns:
        table.columns = list(reports)
    names = {c: e for c in table.columns if (e := named(c)) is not None}
    return plan_columns(table.columns, reports, names, taxonomy)


@dataclass
class ReleaseReport:
    """What a release did, and the risk before and after; ``to_dict`` is the JSON report."""

    input: str
    output: str | None
    k: int
    l: int  # noqa: E741
    max_suppression: float
    plans: list[ColumnPlan]
    records_in: int
    suppressed: int
    not_records: int
    loss: float
    satisfied: bool
    nodes_checked: int
    before: Risk
    after: Risk

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "settings": {"k": self.k, "l": self.l, "max_suppression": self.max_suppression},
            "satisfied": self.satisfied,
            "k_reached": self.after.k,
            "l_reached": self.after.l_reached,
            "records": {
                "in": self.records_in,
                "suppressed": self.suppressed,
                "suppressed_share": round(self.suppressed / self.records_in, 4) if self.records_in else 0.0,
                "out": self.records_in - self.suppressed,
                "not_records": self.not_records,
            },
            "generalisation": {p.name: p.hierarchy.levels[p.level] for p in self.plans if p.hierarchy is not None},
            "information_loss": round(self.loss, 4),
            "unique_share": {"before": round(self.before.unique_share, 4), "after": round(self.after.unique_share, 4)},
            "risk": {"before": self.before.to_dict(), "after": self.after.to_dict()},
            "lattice_nodes_checked": self.nodes_checked,
            "columns": [p.to_dict() for p in self.plans],
        }

    def text(self) -> str:
        d = self.to_dict()
        verdict = "reached" if self.satisfied else "NOT reached (every quasi-identifier fully generalised)"
        lines = [
            f"open-data release of {self.input}: k={self.k} {verdict}; k reached {self.after.k}",
            f"records: {self.records_in:,} in, {self.suppressed:,} left out "
            f"({d['records']['suppressed_share']:.1%}), {d['records']['out']:,} released"
            + (f"; {self.not_records:,} lines were not records" if self.not_records else ""),
            f"unique on quasi-identifiers: {self.before.unique_share:.1%} before, {self.after.unique_share:.1%} after; "
            f"highest risk {self.before.highest_risk:.2f} -> {self.after.highest_risk:.2f}, "
            f"average {self.before.average_risk:.3f} -> {self.after.average_risk:.3f}",
            f"information loss {self.loss:.1%}",
        ]
        if self.after.l_reached:
            lines.append("l-diversity: " + ", ".join(f"{c} l={v}" for c, v in self.after.l_reached.items()))
        for p in self.plans:
            how = f" to {p.hierarchy.levels[p.level]}" if p.hierarchy is not None else ""
            lines.append(f"  {p.name}: {p.action}{how} ({p.reason})")
        return "\n".join(lines) + "\n"


def release_file(
    table: Table,
    out: IO[str],
    plans: list[ColumnPlan],
    generalizer: Generalizer,
    *,
    k: int,
    l: int,  # noqa: E741
    max_suppression: float,
    protect: Callable[[str | None, str], str | None],
    output_name: str | None = None,
) -> ReleaseReport:
    """Search the generalisation, write the released records to ``out`` and report."""
    release = Release(plans, generalizer, k=k, l=l, max_suppression=max_suppression)
    release.province_column(table.sample)
    for record in table.records():
        release.add(record)
    solution = release.search()
    release.apply(solution)
    before = release.risk([0] * len(release.quasi))
    after = release.risk(solution.levels, solution.suppressed_keys)
    kept = [p for p in plans if p.action != "removed"]
    free = {p.name for p in kept if p.action == "kept"}  # not classified: still scanned by the recognisers
    write = table.writer(out, [p.name for p in kept])
    for record in table.records():
        released = release.released(record)
        if released is None:
            continue
        for name in free:
            value = released.get(name)
            if value:
                released[name] = protect(None, value) or ""
        write(released)
    return ReleaseReport(
        input=str(table.path),
        output=output_name,
        k=k,
        l=l,
        max_suppression=max_suppression,
        plans=plans,
        records_in=release.rows,
        suppressed=solution.suppressed,
        not_records=table.problems,
        loss=solution.loss,
        satisfied=solution.satisfied,
        nodes_checked=solution.nodes_checked,
        before=before,
        after=after,
    )


def check_file(table: Table, plans: list[ColumnPlan], generalizer: Generalizer, *, k: int) -> dict[str, Any]:
    """The risk of a table as it is: its quasi-identifiers at their own level, nothing changed."""
    release = Release(plans, generalizer, k=k, l=1, max_suppression=0.0)
    for record in table.records():
        release.add(record)
    risk = release.risk([0] * len(release.quasi))
    identifying = [p.name for p in plans if p.action == "removed"]
    return {
        "input": str(table.path),
        "k_target": k,
        "passes": risk.k >= k and not identifying,
        "risk": risk.to_dict(),
        "quasi_identifiers": [p.name for p in release.quasi],
        "direct_identifiers": identifying,
        "sensitive": [p.name for p in release.sensitive],
        "not_records": table.problems,
        "columns": [{k: v for k, v in p.to_dict().items() if k not in ("generalisation", "levels")} for p in plans],
    }


def check_text(result: dict[str, Any]) -> str:
    risk = result["risk"]
    lines = [
        f"risk of {result['input']}: {risk['records']:,} records, k={risk['k']} "
        f"({'passes' if result['passes'] else 'FAILS'} k>={result['k_target']} without direct identifiers)",
        f"unique on quasi-identifiers: {risk['unique_share']:.1%}; below k: {risk['below_k_share']:.1%}; "
        f"highest risk {risk['highest_risk']:.2f}, average {risk['average_risk']:.3f}",
        f"quasi-identifiers: {', '.join(result['quasi_identifiers']) or '-'}",
        "identifying columns and free text (remove before release): "
        + (", ".join(result["direct_identifiers"]) or "-"),
    ]
    if risk["l"]:
        lines.append("sensitive, l-diversity: " + ", ".join(f"{c} l={v}" for c, v in risk["l"].items()))
    return "\n".join(lines) + "\n"
