"""What every console route shares: its dependencies, expected failures rendered as pages, redirects."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import RedirectResponse, Response

from sentinel.api.auth import current_principal
from sentinel.api.console.rendering import render
from sentinel.api.scope import response_stage
from sentinel.api.views import role_view
from sentinel.identity import Principal
from sentinel.policy.access import RoleView
from sentinel.respond.runs import RunError
from sentinel.respond.service import ResponseService
from sentinel.store.alert_ops import InvalidChange
from sentinel.store.base import NotFound

Stage = Annotated[ResponseService, Depends(response_stage)]
# a browser without a session is redirected to the login page by the app-wide authorisation
Caller = Annotated[Principal, Depends(current_principal)]
View = Annotated[RoleView, Depends(role_view)]


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Render expected failures (403, 404, 409, 422) as a console page instead of JSON."""

    @wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return handler(*args, **kwargs)
        except PageError as exc:
            status, message = exc.status, exc.message
        except HTTPException as exc:
            status, message = exc.status_code, _detail(exc.detail)
        except NotFound as exc:
            status, message = 404, str(exc)
        except (InvalidChange, RunError) as exc:
            status, message = 422, str(exc)
        return render(
            kwargs["request"], "error.html", kwargs["principal"], status_code=status, status=status, message=message
        )

    return wrapper


def _detail(detail: Any) -> str:
    """An HTTP error's detail as one line (422s carry a list of problems, as the API documents them)."""
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail)


def require(principal: Principal, roles: frozenset[str], what: str) -> None:
    if principal.role not in roles:
        raise PageError(403, f"role {principal.role} may not {what}")


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def console_router() -> APIRouter:
    """One area's routes: under /console and out of the OpenAPI schema (pages, not API)."""
    return APIRouter(prefix="/console", include_in_schema=False)
