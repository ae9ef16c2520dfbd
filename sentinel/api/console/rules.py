"""Rules as the analyst sees them: ATT&CK tags by name with their link, and a rule's Sigma source.

The technique and tactic names are a table kept beside this module
(``attack.yml``): the console never fetches ATT&CK data at run time.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from sentinel.api.console.pages import Caller, PageError, console_router, guarded
from sentinel.api.console.rendering import render
from sentinel.content import load_model
from sentinel.models import RuleRef

ATTACK_TABLE = Path(__file__).resolve().parent / "attack.yml"
TECHNIQUE = re.compile(r"^attack\.(t\d{4})(?:\.(\d{3}))?$", re.I)
DOCUMENT_SPLIT = re.compile(r"^---[ \t]*$", re.M)
RULE_ID = re.compile(r"^id:\s*['\"]?([\w.-]+)['\"]?\s*$", re.M)
RULE_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.M)

router = console_router()


class Tactic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    vi: str
    en: str


class AttackTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tactics: dict[str, Tactic]
    techniques: dict[str, str]


@cache
def attack_table() -> AttackTable:
    return load_model(ATTACK_TABLE, AttackTable)


def attack_tags(tags: list[str], lang: str) -> list[dict[str, Any]]:
    """Each ``attack.*`` tag as its name and ATT&CK page; other tags are left out (shown as tags elsewhere)."""
    table = attack_table()
    out = []
    for tag in tags:
        m = TECHNIQUE.match(tag)
        if m:
            tid = m.group(1).upper() + (f".{m.group(2)}" if m.group(2) else "")
            path = m.group(1).upper() + (f"/{m.group(2)}" if m.group(2) else "")
            name = table.techniques.get(tid)
            out.append({"id": tid, "name": name or tid, "url": f"https://attack.mitre.org/techniques/{path}/"})
            continue
        tactic = table.tactics.get(tag.removeprefix("attack.")) if tag.startswith("attack.") else None
        if tactic is not None:
            out.append(
                {
                    "id": tactic.id,
                    "name": getattr(tactic, lang),
                    "url": f"https://attack.mitre.org/tactics/{tactic.id}/",
                }
            )
    return out


@cache
def _rule_index(rules_dir: Path) -> dict[str, tuple[Path, str]]:
    """Rule id -> (file, the YAML document that defines it), over every rule file."""
    index: dict[str, tuple[Path, str]] = {}
    for path in sorted(rules_dir.rglob("*.yml")):
        for doc in DOCUMENT_SPLIT.split(path.read_text(encoding="utf-8")):
            m = RULE_ID.search(doc)
            if m:
                index.setdefault(m.group(1), (path, doc.strip("\n")))
    return index


def rule_source(rules_dir: Path, rule_id: str) -> tuple[str, str] | None:
    """The file (relative to the rules folder) and Sigma source of a rule, or None if no file defines it."""
    found = _rule_index(rules_dir).get(rule_id)
    if found is None:
        return None
    path, text = found
    return str(path.relative_to(rules_dir)), text


@router.get("/rules/{rule_id}")
@guarded
def rule_page(rule_id: str, request: Request, principal: Caller) -> Response:
    rules_dir = request.app.state.settings.rules_dir
    found = rule_source(rules_dir, rule_id)
    if found is None:
        raise PageError(404, "err_no_rule_file", folder=rules_dir.name, id=rule_id)
    file, text = found
    title = RULE_TITLE.search(text)
    rule = RuleRef(id=rule_id, title=title.group(1).strip(" '\"") if title else rule_id)
    return render(request, "rule.html", principal, rule=rule, file=file, source=text)
