"""Who is calling: the :class:`Principal` every endpoint receives.

``app.state.authenticator`` turns a request into a principal. The default,
:class:`LocalOperator`, is for a single-user embedded install on loopback
(the demo): it treats every caller as a SOC lead. Deployments configure real
authentication (users, API tokens, OIDC), which replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import HTTPException, Request

ROLES = ("admin", "soc_lead", "soc_analyst", "dpo", "commune_engineer", "auditor", "ci", "collector")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller with a role and, for local staff, a province/commune scope."""

    name: str
    role: str
    province: str | None = None
    commune: str | None = None


class Authenticator(Protocol):
    def authenticate(self, request: Request) -> Principal | None:
        """The caller, or None when the request carries no valid credentials."""
        ...


class LocalOperator:
    """Every caller is the local SOC lead: only for the embedded single-user demo on loopback."""

    def authenticate(self, request: Request) -> Principal | None:
        return Principal(name="local", role="soc_lead")


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401."""
    principal = request.app.state.authenticator.authenticate(request)
    if principal is None:
        raise HTTPException(status_code=401, detail="authentication required", headers={"WWW-Authenticate": "Bearer"})
    return principal
