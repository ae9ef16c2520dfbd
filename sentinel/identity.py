"""Who acts: roles and the :class:`Principal` every decision is made for.

Identity sits below every stage, not in the web layer, so the policy check in CI, the CLI and
the API decide with the same notion of a caller without importing FastAPI.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "soc_lead", "soc_analyst", "dpo", "commune_engineer", "auditor", "ci", "collector")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller with a role and, for local staff, a province/commune scope."""

    name: str
    role: str
    province: str | None = None
    commune: str | None = None
