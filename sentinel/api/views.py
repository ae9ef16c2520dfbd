"""FastAPI glue: the caller's :class:`RoleView` as a dependency, refusals as 403.

The policy is loaded once per app, on first use, from the app's settings; a
broken policy makes data endpoints fail closed (503 with the file:line reason)
rather than serve unmasked data.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from sentinel.api.auth import current_principal
from sentinel.content import ContentError
from sentinel.identity import Principal
from sentinel.policy import AccessDenied, LoadedPolicy, RoleView


def app_policy(request: Request) -> LoadedPolicy:
    """The runtime's policy; a broken policy fails closed (503 with the reason), never unmasked."""
    try:
        return request.app.state.runtime.policy
    except ContentError as exc:
        raise HTTPException(status_code=503, detail=f"data policy unavailable: {exc}") from None


def forbidden(exc: AccessDenied) -> HTTPException:
    return HTTPException(status_code=403, detail=str(exc))


def role_view(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> RoleView:
    """The caller's view of the data; 403 when the role may not read events and alerts at all."""
    view = RoleView(app_policy(request), principal)
    try:
        view.require_read()
    except AccessDenied as exc:
        raise forbidden(exc) from None
    return view
