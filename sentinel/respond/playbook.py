"""Playbooks: YAML workflows modelled on OASIS CACAO v2, validated when loaded.

A playbook has ``playbook_variables`` (CACAO ``__name__`` variables), a
``workflow`` of steps keyed by id and a ``workflow_start``. Step types are
``start``, ``end``, ``action`` (an automated :mod:`action <sentinel.respond.actions>`
or a ``manual`` instruction) and ``if-condition``. ``x_sentinel_triggers``
(a CACAO-style extension property) links the playbook to rules by id or by
ATT&CK tag. Loading checks that every step exists and is reachable, the graph
has no cycle (runs always end), actions and their arguments are known, every
``__variable__`` used is defined, and approval is kept for actions that need it.

``x_sentinel_translations`` (another extension property) holds the playbook's
name, description and each step's name, description and manual instruction in
the console's other languages (:mod:`sentinel.translations`); a table that is
there must translate every text the English has, nothing it lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sentinel.content import ContentError, YamlDocument, iter_yaml_files, load_yaml
from sentinel.models import Alert
from sentinel.respond.actions import registry
from sentinel.respond.conditions import ConditionError, compile_condition, variables_in
from sentinel.translations import LANGUAGE_NAMES, TRANSLATED, check_languages, pick

VAR = re.compile(r"__([a-z][a-z0-9_]*?)__")
ID = r"^[a-z][a-z0-9-]*--[a-z0-9][a-z0-9-]*$"

# Variables every run starts with, taken from the alert (see runner.alert_variables).
ALERT_VARIABLES = {
    "__alert_id__",
    "__rule_id__",
    "__rule_title__",
    "__severity__",
    "__risk_score__",
    "__count__",
    "__source_ip__",
    "__destination_ip__",
    "__user_name__",
    "__province__",
    "__commune__",
    "__url__",
    "__host_name__",
    "__console_url__",
}


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None


class StartStep(_Step):
    type: Literal["start"]
    on_completion: str


class EndStep(_Step):
    type: Literal["end"]


class ActionStep(_Step):
    type: Literal["action"]
    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = False
    out_args: dict[str, str] = Field(
        default_factory=dict, description="playbook variable <- output key of the action, e.g. __province__: province"
    )
    on_completion: str
    on_failure: str | None = None


class IfStep(_Step):
    type: Literal["if-condition"]
    condition: str
    on_true: str
    on_false: str


Step = Annotated[StartStep | EndStep | ActionStep | IfStep, Field(discriminator="type")]


class Variable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "integer", "boolean", "ipv4-addr", "ipv6-addr"] = "string"
    value: Any = None
    description: str | None = None
    constant: bool = False


class Triggers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="ATT&CK tags as on Sigma rules, e.g. attack.t1110")

    @field_validator("tags")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [t.lower() for t in v]


class StepText(BaseModel):
    """A step's texts in one language: its name, description and the text arguments people read.

    Those arguments (:data:`TEXT_ARGS`) are a manual step's instruction and the subject and message an
    action sends (``notify``, ``notify_commune``); a run sends them in ``respond.yml: language``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1)
    description: str | None = Field(None, min_length=1)
    instruction: str | None = Field(None, min_length=1)
    subject: str | None = Field(None, min_length=1)
    message: str | None = Field(None, min_length=1)


TEXT_ARGS = ("instruction", "subject", "message")  # action arguments that are text for people, translated


class PlaybookText(BaseModel):
    """A playbook's texts in one language (an entry of ``x_sentinel_translations``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str | None = Field(None, min_length=1)
    steps: dict[str, StepText] = Field(default_factory=dict)


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["playbook"] = "playbook"
    spec_version: Literal["cacao-2.0"] = "cacao-2.0"
    id: str = Field(pattern=r"^playbook--[a-z0-9][a-z0-9-]*$")
    name: str
    description: str = ""
    playbook_types: list[
        Literal["detection", "investigation", "prevention", "mitigation", "remediation", "notification", "attack"]
    ] = Field(min_length=1)
    created_by: str | None = None
    labels: list[str] = Field(default_factory=list)
    x_sentinel_triggers: Triggers
    playbook_variables: dict[str, Variable] = Field(default_factory=dict)
    workflow_start: str
    workflow: dict[str, Step] = Field(min_length=2)
    x_sentinel_translations: dict[str, PlaybookText] = Field(default_factory=dict)

    @field_validator("x_sentinel_translations")
    @classmethod
    def _languages(cls, v: dict[str, PlaybookText]) -> dict[str, PlaybookText]:
        return dict(check_languages(v))

    @field_validator("playbook_variables")
    @classmethod
    def _var_names(cls, v: dict[str, Variable]) -> dict[str, Variable]:
        for name in v:
            if not re.fullmatch(r"__[a-z][a-z0-9_]*__", name):
                raise ValueError(f"variable {name!r} must look like __name__ (lower case, underscores)")
        return v

    @model_validator(mode="after")
    def _graph(self) -> Playbook:
        for sid in self.workflow:
            if not re.fullmatch(ID, sid):
                raise ValueError(f"step id {sid!r} must look like kind--name, e.g. action--block-address")
        if self.workflow_start not in self.workflow:
            raise ValueError(f"workflow_start {self.workflow_start!r} is not a step of the workflow")
        if not isinstance(self.workflow[self.workflow_start], StartStep):
            raise ValueError("workflow_start must name a step of type start")
        if not any(isinstance(s, EndStep) for s in self.workflow.values()):
            raise ValueError("the workflow needs an end step")
        for sid, step in self.workflow.items():
            for target in successors(step):
                if target not in self.workflow:
                    raise ValueError(f"step {sid} goes to {target!r}, which is not a step of the workflow")
        self._check_acyclic_and_reachable()
        self._check_actions_and_variables()
        self._check_translations()
        return self

    def _check_translations(self) -> None:
        """Each table translates exactly the texts the English has; an instruction keeps to its variables."""
        for lang, table in self.x_sentinel_translations.items():
            where = f"x_sentinel_translations.{lang}"
            if bool(table.description) != bool(self.description):
                missing = "has no description" if self.description else "gives a description the playbook lacks"
                raise ValueError(f"{where} {missing}")
            for sid in table.steps:
                if sid not in self.workflow:
                    raise ValueError(f"{where}.steps: {sid!r} is not a step of the workflow")
            for sid, step in self.workflow.items():
                text = table.steps.get(sid) or StepText()
                english = {"name": step.name, "description": step.description}
                english |= {key: _text_arg(step, key) for key in TEXT_ARGS}
                for key, original in english.items():
                    given = getattr(text, key)
                    if original and not given:
                        raise ValueError(f"{where}.steps.{sid}: no {LANGUAGE_NAMES[lang]} {key} (the step has one)")
                    if given and not original:
                        raise ValueError(f"{where}.steps.{sid}.{key}: the step has no {key} to translate")
                for key in TEXT_ARGS:
                    given = getattr(text, key)
                    extra = set(VAR.findall(given or "")) - set(VAR.findall(english[key] or ""))
                    if extra:
                        names = ", ".join(f"__{v}__" for v in sorted(extra))
                        raise ValueError(f"{where}.steps.{sid}.{key} uses {names}, which the English does not")

    def untranslated(self) -> list[str]:
        """The languages this playbook has no table for."""
        return [lang for lang in TRANSLATED if lang not in self.x_sentinel_translations]

    def text(self, lang: str, key: str, step_id: str | None = None) -> str:
        """The playbook's (or one step's) ``name``, ``description`` or ``instruction`` in ``lang``, else English."""
        table = self.x_sentinel_translations.get(lang)
        if step_id is None:
            return pick(getattr(self, key) or "", {lang: table} if table else None, lang, key)
        step = self.workflow.get(step_id)
        original = (_text_arg(step, key) if key in TEXT_ARGS else getattr(step, key, None)) if step else None
        steps = {lang: table.steps[step_id]} if table and step_id in table.steps else None
        return pick(original or "", steps, lang, key)

    def args_in(self, lang: str, step_id: str) -> dict[str, Any]:
        """The step's arguments with its text arguments (:data:`TEXT_ARGS`) in ``lang`` where translated."""
        args = dict(self.workflow[step_id].args)
        for key in TEXT_ARGS:
            if key in args:
                args[key] = self.text(lang, key, step_id)
        return args

    def _check_acyclic_and_reachable(self) -> None:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done

        def visit(sid: str, path: list[str]) -> None:
            if state.get(sid) == 1:
                loop = " -> ".join([*path[path.index(sid) :], sid])
                raise ValueError(f"step {path[-1]} goes back to {sid}, a loop ({loop}); a run must always end")
            if state.get(sid) == 2:
                return
            state[sid] = 1
            for nxt in successors(self.workflow[sid]):
                visit(nxt, [*path, sid])
            state[sid] = 2

        visit(self.workflow_start, [])
        unreachable = sorted(set(self.workflow) - set(state))
        if unreachable:
            raise ValueError(f"step(s) {', '.join(unreachable)} cannot be reached from workflow_start")

    def _check_actions_and_variables(self) -> None:
        actions = registry()
        defined = set(ALERT_VARIABLES) | set(self.playbook_variables)
        for step in self.workflow.values():
            if isinstance(step, ActionStep):
                defined |= set(step.out_args)
        for sid, step in self.workflow.items():
            used: set[str] = set()
            if isinstance(step, ActionStep):
                spec = actions.get(step.action)
                if spec is None:
                    raise ValueError(f"step {sid}: unknown action {step.action!r}; known: {', '.join(sorted(actions))}")
                if spec.needs_approval and not step.requires_approval:
                    raise ValueError(
                        f"step {sid}: action {step.action} always needs approval; set requires_approval: true"
                    )
                self._check_args(sid, step, spec.args)
                used = {f"__{m}__" for m in VAR.findall(_text_of(step.args))}
            elif isinstance(step, IfStep):
                try:
                    used = variables_in(compile_condition(step.condition))
                except ConditionError as exc:
                    raise ValueError(f"step {sid}: {exc}") from None
            unknown = sorted(used - defined)
            if unknown:
                raise ValueError(
                    f"step {sid} uses undefined variable(s) {', '.join(unknown)}; "
                    "declare them in playbook_variables or set them with out_args"
                )

    @staticmethod
    def _check_args(sid: str, step: ActionStep, model: type[BaseModel]) -> None:
        # Variables are filled at run time; check the shape with placeholders substituted.
        sample = {k: VAR.sub("x", v) if isinstance(v, str) else v for k, v in step.args.items()}
        try:
            model.model_validate(sample)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"step {sid}: args.{where}: {err['msg']}") from None

    def applies_to(self, alert: Alert) -> bool:
        """True when the alert's rule id or one of its tags is a trigger of this playbook."""
        t = self.x_sentinel_triggers
        if alert.rule.id in t.rule_ids:
            return True
        # attack.t1110 also covers its sub-techniques (attack.t1110.001, ...)
        return any(
            tag == want or tag.startswith(want + ".") for tag in map(str.lower, alert.rule.tags) for want in t.tags
        )


def successors(step: BaseModel) -> list[str]:
    match step:
        case StartStep(on_completion=nxt):
            return [nxt]
        case ActionStep(on_completion=nxt, on_failure=fail):
            return [nxt, *([fail] if fail else [])]
        case IfStep(on_true=t, on_false=f):
            return [t, f]
    return []


def _text_arg(step: BaseModel, key: str) -> str | None:
    """A text argument of an action step that people read (:data:`TEXT_ARGS`), or None."""
    if isinstance(step, ActionStep):
        value = step.args.get(key)
        return str(value) if isinstance(value, str) and value else None
    return None


def _text_of(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_text_of(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_text_of(v) for v in value)
    return str(value)


class PlaybookLibrary:
    """All playbooks of a folder, by id."""

    def __init__(self, playbooks: Iterable[Playbook], sources: dict[str, Path] | None = None) -> None:
        self.by_id: dict[str, Playbook] = {}
        self.sources = sources or {}  # playbook id -> the file it came from
        for pb in playbooks:
            self.by_id[pb.id] = pb

    @classmethod
    def load(cls, folder: str | Path) -> PlaybookLibrary:
        """Load every playbook; raise :class:`ContentError` (``file:line: reason``) on the first bad one."""
        seen: dict[str, Path] = {}
        books = []
        if not Path(folder).is_dir():
            return cls([])
        for path in iter_yaml_files(folder):
            doc = load_yaml(path)
            try:
                pb = doc.validate(Playbook)
            except ContentError as exc:
                raise _located(doc, exc) from None
            if pb.id in seen:
                raise ContentError(path, doc.line_of(("id",)), f"playbook id {pb.id} is also used by {seen[pb.id]}")
            seen[pb.id] = path
            books.append(pb)
        return cls(books, seen)

    def untranslated(self) -> list[str]:
        """``file: reason`` for each playbook without a table for one of the console's languages."""
        return [
            f"{self.sources.get(pb.id, pb.id)}: no {LANGUAGE_NAMES[lang]} translation: add "
            f"x_sentinel_translations: {{{lang}: {{name: ..., description: ..., steps: {{...}}}}}}"
            for pb in self.by_id.values()
            for lang in pb.untranslated()
        ]

    def get(self, playbook_id: str) -> Playbook | None:
        return self.by_id.get(playbook_id)

    def for_alert(self, alert: Alert) -> list[Playbook]:
        return [pb for pb in self.by_id.values() if pb.applies_to(alert)]

    def __len__(self) -> int:
        return len(self.by_id)


def _located(doc: YamlDocument, exc: ContentError) -> ContentError:
    """Point whole-workflow errors ("step X ...", "workflow_start ...") at the line they are about."""
    if not exc.reason.startswith("(document): "):
        return exc
    reason = exc.reason.removeprefix("(document): ").removeprefix("Value error, ")
    table = re.match(r"x_sentinel_translations(?:\.[\w-]+)*", reason)
    if table:
        return ContentError(exc.file, doc.line_of(tuple(table.group(0).split("."))), reason)
    m = re.search(r"step (\S+--\S+?)[ :,]", reason)
    if m and isinstance(doc.data, dict) and m.group(1) in (doc.data.get("workflow") or {}):
        return ContentError(exc.file, doc.line_of(("workflow", m.group(1))), reason)
    if "workflow_start" in reason:
        return ContentError(exc.file, doc.line_of(("workflow_start",)), reason)
    return ContentError(exc.file, exc.line, reason)
