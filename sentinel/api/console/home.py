"""The console's static files and its entry point."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from sentinel.api.console.pages import Caller, console_router, see_other
from sentinel.api.console.rendering import STATIC

router = console_router()


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(path, headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("")
@router.get("/")
def home(principal: Caller) -> RedirectResponse:
    """Data-protection officers start on their review page, everyone else on the alert queue."""
    return see_other("/console/dpo" if principal.role == "dpo" else "/console/alerts")
