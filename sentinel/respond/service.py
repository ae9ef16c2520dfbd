"""One object holding the response stage's parts, built once per process from the settings and the store."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sentinel.collect import AddressPlan
from sentinel.config import Settings
from sentinel.respond.db import ResponseDB
from sentinel.respond.escalation import Escalator
from sentinel.respond.playbook import PlaybookLibrary
from sentinel.respond.runs import PlaybookRunner
from sentinel.respond.settings import RespondConfig, load_respond_config
from sentinel.respond.suppress import Suppressions
from sentinel.store import Store

log = logging.getLogger(__name__)


@dataclass
class ResponseService:
    config: RespondConfig
    db: ResponseDB
    playbooks: PlaybookLibrary
    suppressions: Suppressions
    runner: PlaybookRunner
    escalator: Escalator

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: Store,
        config: RespondConfig | None = None,
        address_plan: AddressPlan | None = None,
    ) -> ResponseService:
        """Load settings and playbooks (ContentError if invalid) and open ``respond.db`` in the data folder.

        ``address_plan`` is the runtime's: playbooks' enrichment looks addresses up in it.
        """
        config = config or load_respond_config(settings)
        db = ResponseDB(settings.respond_db_path)
        playbooks = PlaybookLibrary.load(settings.playbooks_dir)
        return cls(
            config=config,
            db=db,
            playbooks=playbooks,
            suppressions=Suppressions(db),
            runner=PlaybookRunner(db, store, config, playbooks, settings.rules_dir, address_plan),
            escalator=Escalator(db, store, config, settings.rules_dir),
        )

    def housekeeping(self) -> None:
        """Periodic upkeep run with each escalation pass: fail playbook runs a stopped process left running."""
        self.runner.fail_interrupted()

    def run(self, stop: threading.Event, interval: float = 30.0) -> None:
        """The scheduler loop: escalate and keep house every ``interval`` seconds until ``stop`` is set.

        A failing pass is logged and retried on the next one; it never ends the loop.
        """
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.housekeeping()
                self.escalator.tick()
            except Exception:
                log.exception("response scheduler pass failed; retrying in %.0fs", interval)
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def close(self) -> None:
        self.db.close()
