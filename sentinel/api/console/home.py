"""The console's static files, its entry point, and the site root and icon that lead to it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from sentinel.api.console.pages import Caller, console_router, see_other
from sentinel.api.console.rendering import STATIC

router = console_router()
# outside /console: the site root and the icon browsers ask for (both public; the console itself asks to log in)
root = APIRouter(include_in_schema=False)


@root.get("/")
def site_root() -> RedirectResponse:
    return see_other("/console/")


@root.get("/favicon.ico")
def favicon() -> RedirectResponse:
    return RedirectResponse("/console/static/favicon.svg", status_code=301)


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
