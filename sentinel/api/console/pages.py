"""What every console route shares: its dependencies, expected failures rendered as pages, redirects."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response

from sentinel.api.auth import current_principal
from sentinel.api.console.i18n import translator, value_translator
from sentinel.api.console.rendering import render
from sentinel.api.scope import response_stage
from sentinel.api.views import role_view
from sentinel.errors import NotFound
from sentinel.identity import Principal
from sentinel.policy import RoleView
from sentinel.respond import ResponseService, RunError
from sentinel.store import InvalidChange

Stage = Annotated[ResponseService, Depends(response_stage)]
# a browser without a session is redirected to the login page by the app-wide authorisation
Caller = Annotated[Principal, Depends(current_principal)]
View = Annotated[RoleView, Depends(role_view)]


class PageError(Exception):
    """An expected failure, shown as a page in the reader's language.

    ``key`` names a catalogue message filled with ``values`` (None: the status's
    own sentence, ``error_<status>``); ``detail`` is text from below the console
    (a validation, store or run message, written in English), shown beneath it
    as technical detail.
    """

    def __init__(self, status: int, key: str | None = None, detail: str = "", **values: Any) -> None:
        self.status = status
        self.key = key
        self.detail = detail
        self.values = values
        super().__init__(detail or key or str(status))

    def message(self, lang: str) -> str | None:
        """The catalogue message in ``lang`` (None without a key); a ``role`` and a refused act (``what``, a
        ``may_*`` key) are translated too."""
        if self.key is None:
            return None
        t, tr = translator(lang), value_translator(lang)
        values = dict(self.values)
        if "role" in values:
            values["role"] = tr("role_", values["role"])
        if "what" in values:
            values["what"] = t(values["what"])
        return t(self.key, **values)


def guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Render expected failures (403, 404, 409, 422) as a console page instead of JSON."""

    @wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return handler(*args, **kwargs)
        except PageError as exc:
            error = exc
        except HTTPException as exc:
            error = PageError(exc.status_code, detail=_detail(exc.detail))
        except NotFound as exc:
            error = PageError(404, detail=str(exc))
        except (InvalidChange, RunError) as exc:
            error = PageError(422, detail=str(exc))
        return render(
            kwargs["request"], "error.html", kwargs["principal"], status_code=error.status, status=error.status,
            error=error,
        )  # fmt: skip

    return wrapper


def refused_page(request: Request, exc: HTTPException | RequestValidationError) -> Response | None:
    """A console page the app refused before its route ran (the role table, a malformed parameter), as a page in
    the reader's language; None outside the console or before the caller is known (the JSON answer stands)."""
    principal = getattr(request.state, "principal", None)
    if principal is None or not request.url.path.startswith("/console") or request.method not in ("GET", "HEAD"):
        return None
    if isinstance(exc, RequestValidationError):
        error = PageError(422, detail=_detail(list(exc.errors())))
    elif exc.status_code == 403:
        error = PageError(403, "err_page_forbidden", role=principal.role)
    else:
        return None
    return render(request, "error.html", principal, status_code=error.status, status=error.status, error=error)


def _detail(detail: Any) -> str:
    """An HTTP error's detail as one line (422s carry a list of problems, as the API documents them)."""
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail)


def require(principal: Principal, roles: frozenset[str] | set[str], what: str) -> None:
    """403 unless the caller's role is one of ``roles``; ``what`` is the catalogue key of the act (``may_*``)."""
    if principal.role not in roles:
        raise PageError(403, "err_role", role=principal.role, what=what)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def console_router() -> APIRouter:
    """One area's routes: under /console and out of the OpenAPI schema (pages, not API)."""
    return APIRouter(prefix="/console", include_in_schema=False)
