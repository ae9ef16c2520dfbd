"""Content in the reader's language: rule titles and descriptions, playbook names, steps and instructions.

Alerts keep the English title and description of their rule as it was when
they fired (the API and exports show those); the console looks the rule up by
id in the rule files' ``translations`` tables, so an improved translation
reaches old alerts too. Playbook texts come from the loaded playbooks'
``x_sentinel_translations``. A rule or playbook without a table shows in English.
The rule tables are read once per process (0.1 s for the pack; see
:func:`sentinel.detect.rule_text`): a changed translation shows after a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentinel.detect import rule_text
from sentinel.models import RuleRef
from sentinel.respond import PlaybookLibrary
from sentinel.respond import render as fill_variables


def rule_texts(rules_dir: Path, lang: str) -> tuple[Callable[[RuleRef], str], Callable[[RuleRef], str]]:
    """``title(rule)`` and ``description(rule)`` for one reader: what templates and charts call."""
    return (lambda r: rule_text(rules_dir, r, lang, "title"), lambda r: rule_text(rules_dir, r, lang, "description"))


def playbook_text(library: PlaybookLibrary | None, lang: str) -> Callable[..., str]:
    """``text(playbook_id, key, step=None, default="", variables=None)``: a playbook's or a step's text in ``lang``.

    ``default`` is what a run recorded (its playbook or step name) for a playbook
    no longer loaded; ``variables`` fill the ``__variables__`` of an instruction.
    """

    def text(
        playbook_id: str, key: str, step: str | None = None, default: str = "", variables: dict[str, Any] | None = None
    ) -> str:
        pb = library.get(playbook_id) if library is not None else None
        value = (pb.text(lang, key, step) if pb is not None else "") or default
        return str(fill_variables(value, variables)) if variables and value else value

    return text
