"""Running a playbook against an alert: dry-run by default, paused for approval, every step recorded.

A run walks the workflow from its start step. Read-only actions run at once;
side-effecting ones only render what they would do unless the run is live
(``dry_run=False``). A step that needs approval (blocking, disabling an account,
manual tasks, or any step the playbook marks) pauses the run until someone
approves or rejects it; that decision carries the run's version like alert
updates do, so two analysts cannot both approve (and execute) the same step.
Each step's inputs, outputs, approver and result stay on the run record.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field, ValidationError

from sentinel import ecs
from sentinel.audit import Row
from sentinel.collect import AddressPlan
from sentinel.detect import rule_text
from sentinel.errors import Invalid, NotFound, VersionConflict
from sentinel.models import Alert
from sentinel.respond.actions import ActionContext, ActionFailed, registry
from sentinel.respond.alert_fields import alert_field
from sentinel.respond.conditions import compile_condition, evaluate
from sentinel.respond.db import ResponseDB
from sentinel.respond.notify import DeliveryError, send
from sentinel.respond.playbook import VAR, ActionStep, EndStep, IfStep, Playbook, PlaybookLibrary, StartStep
from sentinel.respond.settings import RespondConfig
from sentinel.respond.wording import WORDS
from sentinel.store import Store

log = logging.getLogger(__name__)
RunStatus = Literal["running", "awaiting_approval", "completed", "failed", "rejected"]
StepStatus = Literal["done", "dry_run", "failed", "awaiting_approval", "rejected", "branch"]
INTERRUPTED_AFTER = timedelta(minutes=10)
MAX_STEPS = 200  # the loader forbids cycles; this only bounds a corrupted record


class StepRecord(BaseModel):
    step_id: str
    name: str | None = None
    type: str
    action: str | None = None
    status: StepStatus
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    approver: str | None = None
    comment: str | None = None
    at: str


class Run(BaseModel):
    id: str
    playbook_id: str
    playbook_name: str
    alert_id: str
    started_by: str
    started_at: str
    dry_run: bool
    status: RunStatus
    pending_step: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepRecord] = Field(default_factory=list)
    finished_at: str | None = None
    updated_at: str | None = None
    version: int = 1


class RunError(Invalid):
    """The run cannot be started or decided as asked (the message says why)."""


def alert_variables(alert: Alert, config: RespondConfig, title: str) -> dict[str, Any]:
    """The ``__variables__`` a run starts with, read off the alert (:func:`alert_field`).

    ``title`` is the rule's title in the language the run's messages are sent in.
    """

    def pick(field: str) -> Any:
        return alert_field(alert, field)

    return {
        "__alert_id__": alert.id,
        "__rule_id__": alert.rule.id,
        "__rule_title__": title,
        "__severity__": alert.severity,
        "__risk_score__": alert.risk_score,
        "__count__": alert.count,
        "__source_ip__": pick("source.ip"),
        "__destination_ip__": pick("destination.ip"),
        "__user_name__": pick("user.name"),
        "__province__": pick("labels.province"),
        "__commune__": pick("labels.commune"),
        "__url__": pick("url.original"),
        "__host_name__": pick("host.name"),
        "__console_url__": f"{config.console_url.rstrip('/')}/alerts/{alert.id}",
    }


def render(value: Any, variables: dict[str, Any]) -> Any:
    """Fill ``__variables__`` into action arguments.

    An argument that is one variable (``ip: __source_ip__``) is an operand: it
    keeps its type, and an unset value fails the step rather than acting on
    nothing. Variables inside text (messages, instructions) show ``-`` when unset.
    """
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if not isinstance(value, str):
        return value
    whole = VAR.fullmatch(value)
    if whole:
        v = variables.get(value)
        if v is None:
            raise ActionFailed(f"variable {value} has no value for this alert")
        return v

    def text(m: re.Match[str]) -> str:
        v = variables.get(m.group(0))
        return "-" if v is None else str(v)

    return VAR.sub(text, value)


class RunWitness:
    """How ``sentinel audit verify`` reads playbook runs (approvals and rejections are steps of a run)."""

    kind = "run"

    def __init__(self, db: ResponseDB) -> None:
        self.db = db

    def rows(self, object_id: str) -> list[Row]:
        return self.db.history_rows(self.kind, object_id)

    def state(self, object_id: str) -> dict[str, Any] | None:
        row = self.db.conn().execute("SELECT doc FROM runs WHERE id = ?", (object_id,)).fetchone()
        return Run.model_validate(orjson.loads(row[0])).model_dump() if row else None


class PlaybookRunner:
    def __init__(
        self,
        db: ResponseDB,
        store: Store,
        config: RespondConfig,
        library: PlaybookLibrary,
        rules_dir: Path,
        address_plan: AddressPlan | None = None,
    ) -> None:
        self.rules_dir = rules_dir  # rule titles in the language of the run's messages
        self.address_plan = address_plan
        self.db = db
        self.store = store
        self.config = config
        self.library = library
        self.actions = registry()

    # -- records -------------------------------------------------------------------
    def get(self, run_id: str) -> Run | None:
        row = self.db.conn().execute("SELECT doc FROM runs WHERE id = ?", (run_id,)).fetchone()
        return Run.model_validate(orjson.loads(row[0])) if row else None

    def fail_interrupted(self, older_than: timedelta = INTERRUPTED_AFTER) -> list[str]:
        """Mark runs left "running" by a stopped process as failed, so nobody waits on them.

        Actions time out within two minutes, so a run still running ``older_than``
        after it was last written (started, or claimed by an approval) was
        interrupted, not slow.
        """
        cutoff = datetime.now(UTC) - older_than
        failed = []
        for run in self.list(status="running", limit=1000):
            if ecs.parse_ts(run.updated_at or run.started_at) < cutoff:
                done = run.model_copy(update={"status": "failed", "finished_at": ecs.now_ts()})
                done.steps.append(
                    StepRecord(
                        step_id=run.pending_step or "-",
                        type="interrupted",
                        status="failed",
                        error="Sentinel stopped while this run was executing a step; "
                        "check whether the step took effect, then start the playbook again",
                        at=ecs.now_ts(),
                    )
                )
                try:
                    self._save(done, run.version, "sentinel", "interrupted")
                except VersionConflict:
                    continue  # it moved on after all
                failed.append(run.id)
        return failed

    def list(self, alert_id: str | None = None, status: str | None = None, limit: int = 100) -> list[Run]:
        clauses, params = [], []
        if alert_id:
            clauses.append("alert_id = ?")
            params.append(alert_id)
        if status:
            clauses.append("status = ?")
            params.append(status)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.db.conn().execute(f"SELECT doc FROM runs{where} ORDER BY created DESC LIMIT ?", [*params, limit])
        return [Run.model_validate(orjson.loads(r[0])) for r in rows]

    def _save(self, run: Run, expected_version: int | None, actor: str, action: str) -> Run:
        """Write the run if it is still at ``expected_version`` (None: insert); bumps the version."""
        run = run.model_copy(update={"updated_at": ecs.now_ts()})
        with self.db.write() as conn:
            if expected_version is None:
                conn.execute(
                    "INSERT INTO runs(id, alert_id, playbook_id, status, created, version, doc) VALUES (?,?,?,?,?,?,?)",
                    (
                        run.id,
                        run.alert_id,
                        run.playbook_id,
                        run.status,
                        run.started_at,
                        run.version,
                        orjson.dumps(run.model_dump()),
                    ),
                )
            else:
                row = conn.execute("SELECT version FROM runs WHERE id = ?", (run.id,)).fetchone()
                if row is None:
                    raise NotFound(f"no playbook run with id {run.id}")
                if row[0] != expected_version:
                    raise VersionConflict(run.id, expected_version, row[0])
                run = run.model_copy(update={"version": expected_version + 1})
                conn.execute(
                    "UPDATE runs SET status=?, version=?, doc=? WHERE id=?",
                    (run.status, run.version, orjson.dumps(run.model_dump()), run.id),
                )
            self.db.audit(
                conn,
                actor,
                "run",
                run.id,
                action,
                {"version": expected_version},
                {"status": run.status, "pending_step": run.pending_step, "version": run.version},
                state=run.model_dump(),
                version=run.version,
            )
        return run

    # -- running ---------------------------------------------------------------------
    def start(self, playbook_id: str, alert_id: str, actor: str, dry_run: bool = True) -> Run:
        pb = self.library.get(playbook_id)
        if pb is None:
            raise RunError(f"no playbook {playbook_id}; see GET /api/playbooks")
        alert = self.store.get_alert(alert_id)
        if alert is None:
            raise NotFound(f"no alert with id {alert_id}")
        variables = {k: v.value for k, v in pb.playbook_variables.items()}
        title = rule_text(self.rules_dir, alert.rule, self.config.language, "title")
        variables.update(alert_variables(alert, self.config, title))
        run = Run(
            id=secrets.token_hex(8),
            playbook_id=pb.id,
            playbook_name=pb.name,
            alert_id=alert.id,
            started_by=actor,
            started_at=ecs.now_ts(),
            dry_run=dry_run,
            status="running",
            variables=variables,
        )
        run = self._save(run, None, actor, "start")
        start = pb.workflow[pb.workflow_start]
        assert isinstance(start, StartStep)
        return self._advance(pb, alert, run, start.on_completion, approved_by=None, actor=actor)

    def decide(self, run_id: str, expected_version: int, actor: str, approve: bool, comment: str = "") -> Run:
        """Approve (and execute) or reject the step the run waits on."""
        run = self.get(run_id)
        if run is None:
            raise NotFound(f"no playbook run with id {run_id}")
        if run.version != expected_version:
            raise VersionConflict(run_id, expected_version, run.version)
        if run.status != "awaiting_approval" or not run.pending_step:
            raise RunError(f"run {run_id} is {run.status.replace('_', ' ')}, not waiting for a decision")
        pb = self.library.get(run.playbook_id)
        if pb is None:
            raise RunError(f"playbook {run.playbook_id} is no longer loaded; it cannot continue")
        alert = self.store.get_alert(run.alert_id)
        if alert is None:
            raise NotFound(f"no alert with id {run.alert_id}")
        step_id = run.pending_step
        step = pb.workflow[step_id]
        side_effect = isinstance(step, ActionStep) and self.actions[step.action].side_effect
        if approve and side_effect and not run.dry_run and self.config.four_eyes and actor == run.started_by:
            raise RunError(
                f"{actor} started this live run and cannot also approve its {step.action} step: "
                "another SOC lead must (four-eyes rule, settings: four_eyes)"
            )
        # Claim the run first (version check inside one transaction), then act outside the lock.
        claimed = self._save(
            run.model_copy(update={"status": "running", "pending_step": None}),
            expected_version,
            actor,
            "approve" if approve else "reject",
        )
        if not approve:
            claimed.steps.append(
                StepRecord(
                    step_id=step_id,
                    name=pb.workflow[step_id].name,
                    type=pb.workflow[step_id].type,
                    status="rejected",
                    approver=actor,
                    comment=comment or None,
                    at=ecs.now_ts(),
                )
            )
            done = claimed.model_copy(update={"status": "rejected", "finished_at": ecs.now_ts()})
            return self._save(done, claimed.version, actor, "finish")
        return self._advance(pb, alert, claimed, step_id, approved_by=actor, actor=actor, comment=comment)

    def _advance(
        self, pb: Playbook, alert: Alert, run: Run, step_id: str, approved_by: str | None, actor: str, comment: str = ""
    ) -> Run:
        version = run.version
        for _ in range(MAX_STEPS):
            step = pb.workflow[step_id]
            if isinstance(step, EndStep):
                run.status, run.finished_at = "completed", ecs.now_ts()
                break
            if isinstance(step, IfStep):
                result = evaluate(compile_condition(step.condition), run.variables)
                run.steps.append(
                    StepRecord(
                        step_id=step_id,
                        name=step.name,
                        type=step.type,
                        status="branch",
                        inputs={"condition": step.condition},
                        outputs={"result": result},
                        at=ecs.now_ts(),
                    )
                )
                step_id = step.on_true if result else step.on_false
                continue
            if isinstance(step, StartStep):
                step_id = step.on_completion
                continue
            assert isinstance(step, ActionStep)
            spec = self.actions[step.action]
            try:
                inputs = render(pb.args_in(self.config.language, step_id), run.variables)
            except ActionFailed as exc:
                inputs, render_error = dict(step.args), str(exc)
            else:
                render_error = None
            if render_error is None and approved_by is None and (spec.needs_approval or step.requires_approval):
                run.steps.append(
                    StepRecord(
                        step_id=step_id,
                        name=step.name,
                        type=step.type,
                        action=step.action,
                        status="awaiting_approval",
                        inputs=inputs,
                        at=ecs.now_ts(),
                    )
                )
                run.status, run.pending_step = "awaiting_approval", step_id
                break
            record = StepRecord(
                step_id=step_id,
                name=step.name,
                type=step.type,
                action=step.action,
                status="done",
                inputs=inputs,
                approver=approved_by,
                comment=comment or None,
                at=ecs.now_ts(),
            )
            try:
                if render_error:
                    raise ActionFailed(render_error)
                args = spec.args.model_validate(inputs)
                ctx = ActionContext(self.store, self.config, alert, run.dry_run, run.id, approved_by, self.address_plan)
                record.outputs = spec.run(args, ctx)
                if run.dry_run and spec.side_effect:
                    record.status = "dry_run"
                for var, key in step.out_args.items():
                    run.variables[var] = record.outputs.get(key)
                nxt = step.on_completion
            except (ActionFailed, ValidationError) as exc:
                record.status, record.error = "failed", _error_text(exc)
                nxt = step.on_failure
            except Exception as exc:  # an action's own bug must not leave the run stuck in "running"
                log.exception("playbook %s step %s failed unexpectedly", pb.id, step_id)
                record.status, record.error = "failed", f"internal error in {step.action}: {exc}"
                nxt = step.on_failure
            run.steps.append(record)
            approved_by, comment = None, ""  # an approval covers one step
            if nxt is None:
                run.status, run.finished_at = "failed", ecs.now_ts()
                break
            step_id = nxt
        else:
            run.status, run.finished_at = "failed", ecs.now_ts()
        saved = self._save(run, version, actor, "advance")
        if saved.status == "awaiting_approval" and self.actions[pb.workflow[saved.pending_step].action].side_effect:
            self._ask_for_approval(pb, saved)
        return saved

    def _ask_for_approval(self, pb: Playbook, run: Run) -> None:
        """Tell the approval channels a side effect waits for a lead; delivery problems are logged, not fatal."""
        if not self.config.approval_channels:
            return
        lang, step = self.config.language, run.steps[-1]
        w = WORDS[lang]
        mode = w["dry_run"] if run.dry_run else w["live"]
        subject = f"[Sentinel] {w['approval']} ({mode}): {pb.text(lang, 'name') or run.playbook_name}"
        name = pb.text(lang, "name", step.step_id) or step.name or step.step_id
        text = (
            w["waits"].format(step=name, action=step.action)
            + f"\n{w['inputs']}: {orjson.dumps(step.inputs).decode()}\n"
            + w["started"].format(who=run.started_by, alert=run.alert_id)
            + f"\n{w['open']}: {self.config.console_url.rstrip('/')}/runs/{run.id}"
        )
        for name in self.config.approval_channels:
            try:
                send(self.config.channels[name], subject, text, {"run_id": run.id, "alert_id": run.alert_id})
            except DeliveryError as exc:
                log.warning("approval request for run %s via %s failed: %s", run.id, name, exc)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"args.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return str(exc)
