"""Releasing a table by measured re-identification risk, as ARX and sdcMicro do.

Every column gets a role from the classifier's taxonomy (``role`` in
``classifiers/taxonomy.yaml``):

- **identifying** columns (names, ID numbers, dossier codes, phones, e-mails,
  full addresses) and free text are removed;
- **quasi-identifiers** (date of birth, sex, province, commune, procedure,
  occupation, ethnicity) are generalised along :mod:`sentinel.policy.hierarchies`;
- **sensitive** attributes (religion, health, criminal record...) are kept only
  where every group of records that share their quasi-identifiers holds at
  least ``l`` distinct values of each (distinct l-diversity);
- **insensitive** columns are kept (their text still goes through the purpose's
  recognisers).

The generalisation is chosen on the lattice of full-domain generalisations
(one level per quasi-identifier): the lowest lattice height at which some node
makes every group hold at least ``k`` records and be l-diverse, after leaving
out at most ``max_suppression`` of the records (the outliers); among the nodes
of that height, the one losing least information (the precision metric: the
mean generalisation height of kept cells, with a left-out record counting as
fully generalised). Columnar libraries (ANJANA, pycanon) would add pandas for a
greedy per-attribute search; the lattice over a handful of quasi-identifiers is
small enough to search exactly here.

:func:`measure` gives the risk figures of a table as it is (``sentinel
anonymize --check``); :class:`Release` plans, searches and rewrites rows.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentinel.classify import FieldReport, Taxonomy
from sentinel.policy.hierarchies import PLACE, PROVINCE, Generalizer, Hierarchy, hierarchy_for

ROLE_RANK = {"identifying": 3, "quasi": 2, "sensitive": 1, "insensitive": 0}


@dataclass
class ColumnPlan:
    """What a release does with one column, and why."""

    name: str
    role: str
    entities: list[str]
    action: str  # "removed", "generalised", "kept", "kept l-diverse"
    reason: str
    hierarchy: Hierarchy | None = None
    level: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "column": self.name,
            "role": self.role,
            "entities": self.entities,
            "action": self.action,
            "reason": self.reason,
        }
        if self.hierarchy is not None:
            out["generalisation"] = self.hierarchy.levels[self.level]
            out["levels"] = list(self.hierarchy.levels)
        return out


def plan_columns(
    columns: Sequence[str], reports: Mapping[str, FieldReport], named: Mapping[str, str], taxonomy: Taxonomy
) -> list[ColumnPlan]:
    """A role and an action per column, from its field report and the entity the policy names it with."""
    plans = []
    for name in columns:
        report = reports.get(name)
        entities = [e.type for e in report.entities] if report else []
        if name in named and named[name] not in entities:
            entities.insert(0, named[name])
        if report is not None and (report.free_text or any(e.sparse for e in report.entities)):
            plans.append(ColumnPlan(name, "identifying", entities, "removed", "free text"))
            continue
        roles = sorted(((ROLE_RANK[taxonomy.role(e)], e) for e in entities), reverse=True)
        role = {v: k for k, v in ROLE_RANK.items()}[roles[0][0]] if roles else "insensitive"
        main = next((e for rank, e in roles if rank == ROLE_RANK[role]), None)
        if role == "identifying":
            plans.append(ColumnPlan(name, role, entities, "removed", f"direct identifier ({main})"))
        elif role == "quasi":
            reason = f"quasi-identifier ({main})"
            plans.append(ColumnPlan(name, role, entities, "generalised", reason, hierarchy_for(main)))
        elif role == "sensitive":
            plans.append(ColumnPlan(name, role, entities, "kept l-diverse", f"sensitive attribute ({main})"))
        else:
            plans.append(ColumnPlan(name, role, entities, "kept", f"not personal ({main})" if main else "no entity"))
    return plans


@dataclass
class Risk:
    """Re-identification risk of a table on its quasi-identifiers (prosecutor model)."""

    records: int
    classes: int
    k: int  # the smallest group of records sharing their quasi-identifiers
    unique_share: float  # records alone on their quasi-identifiers
    below_k_share: float  # records in groups smaller than the target k
    highest_risk: float  # 1 / k
    average_risk: float  # groups / records: the mean chance of singling a record out
    l_reached: dict[str, int] = field(default_factory=dict)  # sensitive column -> fewest distinct values in a group

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "classes": self.classes,
            "k": self.k,
            "unique_share": round(self.unique_share, 4),
            "below_k_share": round(self.below_k_share, 4),
            "highest_risk": round(self.highest_risk, 4),
            "average_risk": round(self.average_risk, 4),
            "l": self.l_reached,
        }


def measure(keys: Sequence[tuple], sensitive: Mapping[str, Sequence[Any]], k: int) -> Risk:
    """Risk figures of records whose quasi-identifier tuples are ``keys``; ``sensitive`` columns give l."""
    counts = Counter(keys)
    n = len(keys)
    if not n:
        return Risk(0, 0, 0, 0.0, 0.0, 0.0, 0.0, {name: 0 for name in sensitive})
    smallest = min(counts.values())
    l_reached = {}
    for name, values in sensitive.items():
        distinct: dict[tuple, set] = defaultdict(set)
        for key, value in zip(keys, values, strict=True):
            distinct[key].add(value)
        l_reached[name] = min(len(v) for v in distinct.values())
    return Risk(
        records=n,
        classes=len(counts),
        k=smallest,
        unique_share=sum(1 for c in counts.values() if c == 1) / n,
        below_k_share=sum(c for c in counts.values() if c < k) / n,
        highest_risk=1 / smallest,
        average_risk=len(counts) / n,
        l_reached=l_reached,
    )


@dataclass
class Solution:
    """The chosen generalisation: a level per quasi-identifier and the groups left out."""

    levels: tuple[int, ...]
    suppressed_keys: set[tuple]
    suppressed: int
    loss: float
    satisfied: bool
    nodes_checked: int


class Release:
    """Search and rewrite for one table: quasi-identifier values at every level, held as small integer codes."""

    def __init__(
        self,
        plans: list[ColumnPlan],
        generalizer: Generalizer,
        *,
        k: int,
        l: int,  # noqa: E741 -- the l of l-diversity
        max_suppression: float,
    ) -> None:
        self.plans = plans
        self.generalizer = generalizer
        self.k, self.l, self.max_suppression = k, l, max_suppression
        self.quasi = [p for p in plans if p.action == "generalised"]
        self.sensitive = [p for p in plans if p.action == "kept l-diverse"]
        self.kept = [p for p in plans if p.action != "removed"]
        self._province_column: str | None = None  # the row's province, for communes whose name is not unique
        self._names: list[list[dict[str, int]]] = [
            [{} for _ in q.hierarchy.levels]
            for q in self.quasi  # type: ignore[union-attr]
        ]
        self._codes: list[list[list[int]]] = [[[] for _ in q.hierarchy.levels] for q in self.quasi]  # type: ignore[union-attr]
        self._sens: dict[str, list[str]] = {p.name: [] for p in self.sensitive}
        self.rows = 0
        self._left_out: set[tuple] = set()

    # -- first pass: what the table holds
    def province_column(self, sample: Iterable[Mapping[str, Any]]) -> None:
        """Find the place columns that hold provinces: they climb province -> region, and the first one
        tells the province of a commune whose name is not unique. Call before :meth:`add`."""
        rows = list(sample)
        for q, plan in enumerate(self.quasi):
            if plan.hierarchy is not PLACE:
                continue
            values = [str(r.get(plan.name) or "") for r in rows if r.get(plan.name)]
            if values and sum(self.generalizer.is_province(v) for v in values) >= 0.9 * len(values):
                plan.hierarchy = PROVINCE
                self._names[q] = [{} for _ in PROVINCE.levels]
                self._codes[q] = [[] for _ in PROVINCE.levels]
                self._province_column = self._province_column or plan.name

    def chains(self, row: Mapping[str, Any]) -> list[list[str]]:
        """Every quasi-identifier of ``row`` at every level of its hierarchy."""
        hint = str(row.get(self._province_column) or "") if self._province_column else None
        return [
            self.generalizer.chain(q.hierarchy, str(row.get(q.name) or ""), hint)  # type: ignore[arg-type]
            for q in self.quasi
        ]

    def add(self, row: Mapping[str, Any]) -> None:
        """Remember one row's quasi-identifiers (as codes) and sensitive values."""
        for q, chain in enumerate(self.chains(row)):
            for level, value in enumerate(chain):
                names = self._names[q][level]
                self._codes[q][level].append(names.setdefault(value, len(names)))
        for name, values in self._sens.items():
            values.append(str(row.get(name) or ""))
        self.rows += 1

    # -- the search
    def _keys(self, levels: Sequence[int]) -> list[tuple]:
        columns = [self._codes[q][level] for q, level in enumerate(levels)]
        return list(zip(*columns, strict=True)) if columns else [()] * self.rows

    def _bad(self, keys: list[tuple]) -> tuple[set[tuple], int]:
        """Groups that break k-anonymity or l-diversity, and how many records they hold."""
        counts = Counter(keys)
        bad = {key for key, c in counts.items() if c < self.k}
        for values in self._sens.values():
            distinct: dict[tuple, set[str]] = defaultdict(set)
            for key, value in zip(keys, values, strict=True):
                distinct[key].add(value)
            bad |= {key for key, d in distinct.items() if len(d) < self.l}
        return bad, sum(counts[key] for key in bad)

    def _loss(self, levels: Sequence[int], suppressed: int) -> float:
        """Precision loss: mean normalised height of the kept cells; a left-out record is fully generalised."""
        if not self.quasi or not self.rows:
            return suppressed / self.rows if self.rows else 0.0
        height = sum(lv / (len(q.hierarchy.levels) - 1) for lv, q in zip(levels, self.quasi, strict=True))  # type: ignore[union-attr]
        kept = self.rows - suppressed
        return (kept * height + suppressed * len(self.quasi)) / (self.rows * len(self.quasi))

    def search(self) -> Solution:
        """The least generalisation reaching k-anonymity and l-diversity within the suppression limit."""
        tops = [len(q.hierarchy.levels) - 1 for q in self.quasi]  # type: ignore[union-attr]
        limit = int(self.max_suppression * self.rows)
        checked = 0
        for height in range(sum(tops) + 1):
            best: Solution | None = None
            for levels in itertools.product(*(range(t + 1) for t in tops)):
                if sum(levels) != height:
                    continue
                checked += 1
                bad, suppressed = self._bad(self._keys(levels))
                if suppressed > limit:
                    continue
                loss = self._loss(levels, suppressed)
                if best is None or loss < best.loss:
                    best = Solution(levels, bad, suppressed, loss, True, 0)
            if best is not None:
                best.nodes_checked = checked
                return best
        # not even the top node keeps enough records: release the top node, leaving out what still fails
        top = tuple(tops)
        bad, suppressed = self._bad(self._keys(top))
        return Solution(top, bad, suppressed, self._loss(top, suppressed), False, checked)

    def risk(self, levels: Sequence[int], without: set[tuple] | None = None) -> Risk:
        """Risk figures at a generalisation, over the records not left out."""
        keys = self._keys(levels)
        keep = [i for i, key in enumerate(keys) if not without or key not in without]
        sens = {name: [values[i] for i in keep] for name, values in self._sens.items()}
        return measure([keys[i] for i in keep], sens, self.k)

    # -- second pass: the released rows
    def apply(self, solution: Solution) -> None:
        """Fix the chosen levels and the left-out groups (as values) for :meth:`released`."""
        for plan, level in zip(self.quasi, solution.levels, strict=True):
            plan.level = level
        values = [
            {code: value for value, code in self._names[q][level].items()} for q, level in enumerate(solution.levels)
        ]
        self._left_out = {tuple(values[q][code] for q, code in enumerate(key)) for key in solution.suppressed_keys}

    def released(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        """The row as released (kept columns, generalised quasi-identifiers), or None when it is left out."""
        chains = self.chains(row)
        key = tuple(chain[q.level] for chain, q in zip(chains, self.quasi, strict=True))
        if key in self._left_out:
            return None
        out = {p.name: row.get(p.name) for p in self.kept}
        for q, value in zip(self.quasi, key, strict=True):
            out[q.name] = value
        return out
