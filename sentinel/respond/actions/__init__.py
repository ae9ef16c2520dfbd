"""Playbook actions: what an automated step can do, with its argument model and safety class.

An action is *side-effecting* (it changes something outside Sentinel: blocks an
address, disables an account, sends a message) or read-only (enrichment). In a
dry run side-effecting actions only render what they would do. Some actions
always need a person's approval before they run, whatever the playbook says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sentinel.collect import AddressPlan
from sentinel.errors import Unavailable
from sentinel.models import Alert
from sentinel.respond.settings import RespondConfig
from sentinel.store import Store


@dataclass
class ActionContext:
    store: Store
    config: RespondConfig
    alert: Alert
    dry_run: bool
    run_id: str
    approved_by: str | None = None
    address_plan: AddressPlan | None = None  # the runtime's, for looking addresses up


class ActionFailed(Unavailable):
    """The action could not do its work; the message says why (it is recorded on the run)."""


@dataclass(frozen=True)
class ActionSpec:
    name: str
    args: type[BaseModel]
    run: Callable[[Any, ActionContext], dict[str, Any]]
    side_effect: bool
    needs_approval: bool
    summary: str


def registry() -> dict[str, ActionSpec]:
    """Every action a playbook may name."""
    from sentinel.respond.actions import enrich, firewall, manual, messaging

    specs = [*enrich.SPECS, *firewall.SPECS, *messaging.SPECS, *manual.SPECS]
    return {s.name: s for s in specs}
