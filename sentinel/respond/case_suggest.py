"""Which alerts belong together: cases suggested from the queue, so a campaign is one case, not 25 rows.

Two signals, both within a time window: alerts of different rules that share an
entity (the same address scanned, then brute-forced, then logged in), and many
alerts of one rule for different entities (password spraying from 25
addresses). Alerts already in a case are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sentinel import ecs
from sentinel.models import Alert, RuleRef
from sentinel.respond.cases import OBSERVABLE_FIELDS

SEVERITY_ORDER = ["informational", "low", "medium", "high", "critical"]
CAMPAIGN_MIN = 5
MAX_SUGGESTIONS = 20


@dataclass
class Suggestion:
    kind: str  # "entity": several rules, one entity; "campaign": one rule, many entities
    key: str  # the shared entity value, or the rule's title
    field: str  # the entity's field, or "rule.id"
    alerts: list[Alert] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return max((a.severity for a in self.alerts), key=SEVERITY_ORDER.index)

    @property
    def title(self) -> str:
        return self.titled(lambda rule: rule.title)

    def titled(self, rule_title: Callable[[RuleRef], str]) -> str:
        """The case title this grouping proposes, naming rules with ``rule_title`` (the console: the reader's
        language)."""
        if self.kind == "campaign":
            return f"{rule_title(self.alerts[0].rule)}: {len(self.alerts)}"
        rules = sorted({rule_title(a.rule) for a in self.alerts})
        return f"{self.key}: {', '.join(rules[:3])}{'…' if len(rules) > 3 else ''}"


def _within(alerts: list[Alert], window: timedelta) -> list[Alert]:
    """The alerts whose last activity is within ``window`` of the newest one."""
    newest = max(ecs.parse_ts(a.last_seen) for a in alerts)
    return [a for a in alerts if newest - ecs.parse_ts(a.last_seen) <= window]


def suggest(alerts: Iterable[Alert], in_cases: set[str], window: timedelta = timedelta(hours=24)) -> list[Suggestion]:
    """Groups worth one case each, largest and most severe first."""
    candidates = [a for a in alerts if a.id not in in_cases and a.status != "closed"]
    by_entity: dict[tuple[str, str], list[Alert]] = {}
    by_rule: dict[str, list[Alert]] = {}
    for a in candidates:
        by_rule.setdefault(a.rule.id, []).append(a)
        seen: set[tuple[str, str]] = set()
        for doc in (a.entity, *a.events):
            for f in OBSERVABLE_FIELDS:
                value = doc.get(f) if f in doc else ecs.get_field(doc, f)
                if isinstance(value, str) and value and (f, value) not in seen:
                    seen.add((f, value))
                    by_entity.setdefault((f, value), []).append(a)
    out: list[Suggestion] = []
    for (f, value), group in by_entity.items():
        group = _within(group, window)
        if len({a.rule.id for a in group}) >= 2:
            out.append(Suggestion("entity", value, f, group))
    for group in by_rule.values():
        group = _within(group, window)
        if len({a.group_key for a in group}) >= CAMPAIGN_MIN:
            out.append(Suggestion("campaign", group[0].rule.title, "rule.id", group))
    out.sort(key=lambda s: (-len(s.alerts), -SEVERITY_ORDER.index(s.severity), s.key))
    return out[:MAX_SUGGESTIONS]
