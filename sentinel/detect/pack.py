"""The rule pack: Sigma rules with their test events, loaded together and checked together.

Each rule document may carry a ``tests:`` section (a custom attribute, so the
file stays valid Sigma for sigma-cli and pySigma)::

    tests:
      base: {event.dataset: nginx.access, source.ip: 203.0.113.5}   # merged under every event
      match:                                                         # each must raise the rule's alert
        - {url.query: "id=1' UNION SELECT 1--"}
      no_match:                                                      # none may raise it
        - {url.query: "id=1"}

Simple rules list single events (dotted ECS keys or nested objects). Correlation
rules list scenarios of ``steps``; a step repeats one event ``repeat`` times,
``every`` apart, after a gap of ``after``, cycling the values in ``vary`` (a list)
or formatting a template with the repetition number (``"id={n}"``; ``{n}`` alone
gives a number; ``cycle`` wraps the number). Events without ``@timestamp`` are
placed from :data:`TEST_EPOCH` on (09:00 in Vietnam), and each gets a
deterministic ``event.id``.

Tests run through the streaming engine with the ``ecs`` pipeline, so the rule's
log source must route the test event to it exactly as in production.

A rule's title and description in the console's other languages are a
``translations`` table, another custom attribute (see :mod:`sentinel.translations`)::

    translations:
      vi: {title: "Dò quét lỗ hổng bằng công cụ tự động", description: "..."}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from sentinel import ecs
from sentinel.content import ContentError, YamlDocument, iter_yaml_files, load_yaml_documents
from sentinel.models import RuleRef
from sentinel.translations import LANGUAGE_NAMES, TRANSLATED, check_languages, pick

TEST_EPOCH = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ONLY_N = re.compile(r"^\{n(?::d)?\}$")


def parse_duration(text: str) -> timedelta:
    """``250ms``, ``10s``, ``5m``, ``1h``, ``1d`` -> timedelta."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration: use a number and ms, s, m, h or d (e.g. 10s, 5m)")
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])


class Step(BaseModel):
    """One event, repeated: a building block of a correlation scenario."""

    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any] = Field(default_factory=dict)
    repeat: int = Field(1, ge=1, le=100_000)
    every: str = "1s"
    after: str = "0s"
    vary: dict[str, list[Any] | str] = Field(default_factory=dict)
    cycle: int | None = Field(None, ge=1)

    @field_validator("every", "after")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v

    @field_validator("vary")
    @classmethod
    def _vary(cls, v: dict[str, list[Any] | str]) -> dict[str, list[Any] | str]:
        for key, values in v.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"{key}: give at least one value to cycle through")
            if isinstance(values, str) and "{n" not in values:
                raise ValueError(f"{key}: a template must contain {{n}} (put constant values in event)")
        return v


class Scenario(BaseModel):
    """A sequence of steps: the events one correlation test feeds the engine."""

    model_config = ConfigDict(extra="forbid")

    steps: list[Step] = Field(min_length=1)


TestCase = Scenario | dict[str, Any]


class RuleTests(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: dict[str, Any] = Field(default_factory=dict)
    match: list[TestCase] = Field(min_length=1)
    no_match: list[TestCase] = Field(min_length=1)

    @field_validator("match", "no_match", mode="before")
    @classmethod
    def _cases(cls, v: Any) -> Any:
        # A mapping with ``steps`` is a scenario (validated strictly); any other mapping is one event.
        if not isinstance(v, list):
            return v
        return [Scenario.model_validate(c) if isinstance(c, dict) and "steps" in c else c for c in v]


class RuleText(BaseModel):
    """A rule's title and description in one language (an entry of its ``translations`` table)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    description: str = Field(min_length=1)


class _TranslationSection(BaseModel):
    """A rule document's ``translations`` table (the rest of the document is not looked at)."""

    model_config = ConfigDict(extra="allow")

    translations: dict[str, RuleText] | None = None

    @field_validator("translations")
    @classmethod
    def _languages(cls, v: dict[str, RuleText] | None) -> dict[str, RuleText] | None:
        return None if v is None else dict(check_languages(v))


class _CustomSection(_TranslationSection):
    """Our custom attributes of a rule document (Sigma keeps unknown top-level keys as custom attributes)."""

    tests: RuleTests | None = None


@dataclass
class PackRule:
    """One rule document of the pack."""

    rule: SigmaRule | SigmaCorrelationRule
    path: Path
    line: int
    doc: YamlDocument
    tests: RuleTests | None
    translations: dict[str, RuleText] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.rule.id) if self.rule.id else (self.rule.name or self.rule.title)

    @property
    def title(self) -> str:
        return self.rule.title

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Pack:
    """The rules of one or more folders, plus what could not be loaded (``file:line: reason``)."""

    rules: list[PackRule] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)

    def find(self, ref: str) -> PackRule | None:
        """The rule a correlation references, by name or id."""
        for r in self.rules:
            if ref in (r.rule.name, str(r.rule.id)):
                return r
        return None

    def with_references(self, rule: PackRule) -> list[PackRule]:
        """``rule`` and every rule it correlates, transitively (what an engine needs to evaluate it)."""
        out: list[PackRule] = []
        todo = [rule]
        while todo:
            current = todo.pop()
            if any(current is r for r in out):
                continue
            out.append(current)
            if isinstance(current.rule, SigmaCorrelationRule):
                for ref in current.rule.rules:
                    found = self.find(str(ref.reference))
                    if found is not None:
                        todo.append(found)
        return out

    def collection(self, rules: Iterable[PackRule] | None = None) -> SigmaCollection:
        """A pySigma collection of ``rules`` (default: the whole pack), references unresolved."""
        chosen = self.rules if rules is None else list(rules)
        return SigmaCollection([r.rule for r in chosen], resolve_references=False)


def load_pack(paths: Sequence[str | Path]) -> Pack:
    """Load every ``.yml``/``.yaml`` rule below ``paths`` with its tests.

    Problems (YAML syntax, Sigma errors, malformed tests) are collected as
    :class:`ContentError` with file and line rather than raised, so one broken
    rule does not hide the others.
    """
    pack = Pack()
    for path in _files(paths):
        try:
            docs = load_yaml_documents(path)
        except ContentError as exc:
            pack.errors.append(exc)
            continue
        for doc in docs:
            _load_document(pack, path, doc)
    return pack


def rule_translations(paths: Sequence[str | Path]) -> dict[str, dict[str, RuleText]]:
    """Rule id -> its ``translations`` table, from the YAML alone (no Sigma parsing: what a page needs).

    A file or table that does not load is left out here, the rule then shows in
    English; ``sentinel rules lint`` reports it with its line.
    """
    out: dict[str, dict[str, RuleText]] = {}
    for path in _files(paths):
        try:
            docs = load_yaml_documents(path)
        except ContentError:
            continue
        for doc in docs:
            data = doc.data
            if not isinstance(data, dict) or not data.get("translations"):
                continue
            try:
                table = _TranslationSection.model_validate({"translations": data["translations"]}).translations
            except ValidationError:
                continue
            rid = data.get("id") or data.get("name") or data.get("title")
            if rid and table:
                out.setdefault(str(rid), table)
    return out


@cache
def _translation_tables(rules_dir: Path) -> dict[str, dict[str, RuleText]]:
    return rule_translations([rules_dir]) if rules_dir.is_dir() else {}


def rule_text(rules_dir: Path, rule: RuleRef, lang: str, key: str) -> str:
    """The ``title`` or ``description`` of an alert's rule in ``lang`` (the alert's English text when not translated).

    Alerts keep the English text of their rule as it was when they fired; readers
    (the console, notifications) look the rule up by id in the rule files'
    ``translations`` tables, so an improved translation reaches old alerts too.
    The tables are read once per process and folder: a change shows after a restart.
    """
    return pick(getattr(rule, key) or "", _translation_tables(rules_dir).get(rule.id), lang, key)


def _files(paths: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(iter_yaml_files(p))
        elif p.is_file():
            files.append(p)
        else:
            raise ContentError(p, None, "no such file or folder")
    return files


def _load_document(pack: Pack, path: Path, doc: YamlDocument) -> None:
    line = doc.line_of(()) or 1
    if doc.data is None:
        return
    if not isinstance(doc.data, dict):
        pack.errors.append(ContentError(path, line, "a rule must be a mapping of Sigma attributes"))
        return
    if "action" in doc.data:
        pack.errors.append(
            ContentError(
                path, doc.line_of(("action",)), "collection actions (global/repeat/reset) are not used in the pack"
            )
        )
        return
    try:
        _check_scenarios(doc)
        custom = doc.validate(_CustomSection)
    except ContentError as exc:
        pack.errors.append(exc)
        return
    try:
        collection = SigmaCollection.from_dicts(
            [doc.data], collect_errors=True, source=SigmaRuleLocation(path, line), resolve_references=False
        )
    except SigmaError as exc:
        pack.errors.append(ContentError(path, line, f"not a Sigma rule: {exc}"))
        return
    for rule in collection.rules:
        if not isinstance(rule, SigmaRule | SigmaCorrelationRule):
            pack.errors.append(ContentError(path, line, f"unsupported document type {type(rule).__name__}"))
            continue
        if rule.errors:
            pack.errors.append(ContentError(path, line, "; ".join(str(e) for e in rule.errors)))
            continue
        pack.rules.append(
            PackRule(
                rule=rule, path=path, line=line, doc=doc, tests=custom.tests, translations=custom.translations or {}
            )
        )


def _check_scenarios(doc: YamlDocument) -> None:
    """Validate each scenario on its own, so an error points at the step's line rather than the case's."""
    raw = doc.data.get("tests")
    if not isinstance(raw, dict):
        return
    for kind in ("match", "no_match"):
        cases = raw.get(kind)
        for i, case in enumerate(cases if isinstance(cases, list) else []):
            if isinstance(case, dict) and "steps" in case:
                try:
                    Scenario.model_validate(case)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    loc = ("tests", kind, i, *err["loc"])
                    raise ContentError(doc.file, doc.line_of(loc), f"{'.'.join(map(str, loc))}: {err['msg']}") from None


# --- test events ---------------------------------------------------------------------------------


def case_events(tests: RuleTests, case: TestCase, label: str) -> list[dict[str, Any]]:
    """The ECS events of one test case, with timestamps and deterministic ids."""
    steps = case.steps if isinstance(case, Scenario) else [Step(event=case)]
    base = ecs.flatten(tests.base)
    clock = TEST_EPOCH
    events: list[dict[str, Any]] = []
    for step in steps:
        every = parse_duration(step.every)
        clock += parse_duration(step.after)
        fixed = {**base, **ecs.flatten(step.event)}
        for i in range(step.repeat):
            flat = dict(fixed)
            n = i % step.cycle if step.cycle else i
            for key, values in step.vary.items():
                flat[key] = values[i % len(values)] if isinstance(values, list) else _template(values, n)
            flat.setdefault("@timestamp", ecs.format_ts(clock))
            raw = orjson.dumps(flat, option=orjson.OPT_SORT_KEYS, default=str)
            flat["event.id"] = ecs.event_id(f"rules-test:{label}", len(events), raw)
            events.append(ecs.unflatten(flat))
            clock += every
    return events


def _template(template: str, n: int) -> Any:
    if _ONLY_N.match(template):
        return n
    return template.format(n=n)


# --- running tests -------------------------------------------------------------------------------


@dataclass
class CaseResult:
    rule: PackRule
    kind: Literal["match", "no_match"]
    index: int
    passed: bool
    detail: str

    @property
    def where(self) -> str:
        line = self.rule.doc.line_of(("tests", self.kind, self.index)) or self.rule.line
        return f"{self.rule.path}:{line}"


def run_tests(pack: Pack, rules: Iterable[PackRule] | None = None) -> list[CaseResult]:
    """Run the test events of ``rules`` (default: every rule with tests) through the streaming engine.

    Each case gets a fresh engine holding only the rule and the rules it
    correlates, so cases cannot influence each other. A match case passes when
    the rule raises at least one alert; a no-match case when it raises none.
    """
    from sentinel.detect.engine import Engine

    results: list[CaseResult] = []
    for prule in pack.rules if rules is None else rules:
        tests = prule.tests
        if tests is None:
            continue
        collection = pack.collection(pack.with_references(prule))
        for kind in ("match", "no_match"):
            for index, case in enumerate(getattr(tests, kind)):
                engine = Engine.from_collection(collection, pipeline="ecs")
                problems = [p for p in engine.problems if p.rule_id in (prule.id, prule.rule.name)]
                if problems:
                    results.append(CaseResult(prule, kind, index, False, f"rule not evaluable: {problems[0].reason}"))
                    continue
                events = case_events(tests, case, f"{prule.id}:{kind}:{index}")
                alerts = engine.process(events) + engine.flush()
                fired = [a for a in alerts if a.rule.id == prule.id]
                if kind == "match":
                    ok = bool(fired)
                    detail = (
                        f"{len(fired)} alert(s)" if ok else f"expected an alert, none raised ({len(events)} events)"
                    )
                else:
                    ok = not fired
                    detail = "no alert" if ok else f"expected no alert, {len(fired)} raised"
                results.append(CaseResult(prule, kind, index, ok, detail))
    return results


# --- lint ------------------------------------------------------------------------------------------

LintSeverity = Literal["error", "warning"]
REQUIRED = ("title", "id", "status", "description", "author", "date", "level", "falsepositives", "tags")
# D3FEND data is not shipped: its validator would try to download the ontology.
EXCLUDED_VALIDATORS = frozenset({"d3_fendtag"})


@dataclass
class LintIssue:
    where: str  # file:line
    rule: str  # title, or the file when the rule did not load
    check: str
    severity: LintSeverity
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: [{self.check}] {self.rule}: {self.message}"


def lint(pack: Pack) -> list[LintIssue]:
    """Our checks of the pack, then pySigma's validators (the checks ``sigma check`` runs), offline.

    Errors: what makes a rule unusable or untested (load errors, missing
    metadata, unknown ATT&CK tags, duplicate ids, missing test cases, failed
    tests, rules the engine cannot evaluate). Warnings: style issues reported by
    pySigma's validators, and technique tags without a tactic they belong to.
    """
    issues = [
        LintIssue(str(e.file) + (f":{e.line}" if e.line else ""), e.file, "load", "error", e.reason)
        for e in pack.errors
    ]
    issues += _metadata_issues(pack)
    issues += _translation_issues(pack)
    issues += _attack_issues(pack)
    issues += _uniqueness_issues(pack)
    issues += _test_issues(pack)
    issues += _engine_issues(pack)
    issues += _validator_issues(pack)
    return issues


def _issue(
    r: PackRule, check: str, message: str, loc: tuple[str | int, ...] = (), sev: LintSeverity = "error"
) -> LintIssue:
    line = r.doc.line_of(loc) if loc else r.line
    return LintIssue(f"{r.path}:{line or r.line}", r.title, check, sev, message)


def _metadata_issues(pack: Pack) -> list[LintIssue]:
    issues = []
    for r in pack.rules:
        data = r.doc.data
        for key in REQUIRED:
            if not data.get(key):
                issues.append(_issue(r, "metadata", f"missing {key}"))
        if not r.is_correlation and not data.get("logsource"):
            issues.append(_issue(r, "metadata", "missing logsource"))
    return issues


def _translation_issues(pack: Pack) -> list[LintIssue]:
    """Every rule speaks every console language: a missing entry is an error, an untranslated copy a warning."""
    issues = []
    for r in pack.rules:
        for lang in TRANSLATED:
            text = r.translations.get(lang)
            if text is None:
                issues.append(
                    _issue(
                        r,
                        "translation",
                        f"no {LANGUAGE_NAMES[lang]} title and description: add "
                        f"translations: {{{lang}: {{title: ..., description: ...}}}}",
                    )
                )
            elif text.title.strip() == r.title.strip():
                issues.append(
                    _issue(
                        r,
                        "translation",
                        f"the {lang} title is the English one",
                        ("translations", lang, "title"),
                        "warning",
                    )
                )
    return issues


def _attack_issues(pack: Pack) -> list[LintIssue]:
    from sentinel.detect.attack_data import TECHNIQUE_TAG, load

    attack = load()
    issues = []
    for r in pack.rules:
        names = [t.name.lower() for t in r.rule.tags if t.namespace == "attack"]
        for name in names:
            reason = attack.check_tag(name)
            if reason:
                issues.append(_issue(r, "attack", reason, ("tags",)))
        tactics = {n for n in names if n in attack.tactic_names}
        techniques = [n.upper() for n in names if TECHNIQUE_TAG.match(n) and n.upper() in attack.techniques]
        if not tactics:
            issues.append(_issue(r, "attack", "no ATT&CK tactic tag (e.g. attack.initial-access)", ("tags",)))
        if not techniques:
            issues.append(_issue(r, "attack", "no ATT&CK technique tag (e.g. attack.t1190)", ("tags",)))
        for tech in techniques:
            if tactics and not tactics & set(attack.technique_tactics.get(tech, [])):
                owners = ", ".join(attack.technique_tactics.get(tech, [])) or "none"
                issues.append(
                    _issue(r, "attack", f"{tech} belongs to {owners}, none of the rule's tactics", ("tags",), "warning")
                )
    return issues


def _uniqueness_issues(pack: Pack) -> list[LintIssue]:
    issues = []
    seen_ids: dict[str, PackRule] = {}
    seen_names: dict[str, PackRule] = {}
    for r in pack.rules:
        rid = str(r.rule.id) if r.rule.id else None
        if rid and rid in seen_ids:
            issues.append(_issue(r, "unique", f"id {rid} is also used by {seen_ids[rid].where}", ("id",)))
        elif rid:
            seen_ids[rid] = r
        if r.rule.name and r.rule.name in seen_names:
            issues.append(
                _issue(r, "unique", f"name {r.rule.name} is also used by {seen_names[r.rule.name].where}", ("name",))
            )
        elif r.rule.name:
            seen_names[r.rule.name] = r
    return issues


def _test_issues(pack: Pack) -> list[LintIssue]:
    """Every rule, base rules of correlations included, needs match and no_match cases, and they must pass."""
    issues = []
    for r in pack.rules:
        if r.tests is None:
            issues.append(_issue(r, "tests", "no tests: add a tests section with match and no_match cases"))
            continue
        if r.is_correlation:
            for kind in ("match", "no_match"):
                for i, case in enumerate(getattr(r.tests, kind)):
                    if not isinstance(case, Scenario):
                        issues.append(
                            _issue(
                                r, "tests", "a correlation test case must be a scenario of steps", ("tests", kind, i)
                            )
                        )
    for res in run_tests(pack):
        if not res.passed:
            issues.append(
                LintIssue(res.where, res.rule.title, "tests", "error", f"{res.kind} case {res.index + 1}: {res.detail}")
            )
    return issues


def _engine_issues(pack: Pack) -> list[LintIssue]:
    from sentinel.detect.engine import Engine

    engine = Engine.from_collection(pack.collection(), pipeline="ecs")
    by_id = {r.id: r for r in pack.rules}
    issues = []
    for p in engine.problems:
        r = by_id.get(p.rule_id or "")
        where = r.where if r else (p.path or "(pack)")
        issues.append(LintIssue(where, p.title or "?", "engine", "error", f"not evaluable: {p.reason}"))
    return issues


def _validator_issues(pack: Pack) -> list[LintIssue]:
    from sigma.plugins import InstalledSigmaPlugins
    from sigma.validation import SigmaValidator
    from sigma.validators.base import SigmaValidationIssueSeverity

    from sentinel.detect.attack_data import install_offline

    install_offline()
    validators = InstalledSigmaPlugins.autodiscover().validators
    validator = SigmaValidator([v for name, v in validators.items() if name not in EXCLUDED_VALIDATORS])
    by_rule = {id(r.rule): r for r in pack.rules}
    issues = []
    for issue in validator.validate_rules(r.rule for r in pack.rules):
        sev: LintSeverity = "error" if issue.severity == SigmaValidationIssueSeverity.HIGH else "warning"
        extra = ", ".join(
            f"{k}={v}" for k, v in vars(issue).items() if k not in ("rules", "severity", "description") and v
        )
        message = issue.description + (f" ({extra})" if extra else "")
        for rule in issue.rules:
            r = by_rule.get(id(rule))
            where = r.where if r else str(rule.source) if rule.source else "(pack)"
            issues.append(LintIssue(where, rule.title, f"sigma:{type(issue).__name__}", sev, message))
    return issues
