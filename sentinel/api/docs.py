"""/docs (Swagger UI) and /redoc, served offline under the console's Content-Security-Policy.

FastAPI's own pages load their scripts from a CDN and start them with inline code; a SOC
network often has no Internet, and the console's CSP allows neither. Swagger UI runs under
the console's CSP unchanged; ReDoc needs inline styles (see ``REDOC_CSP``). Here the assets come from
the ``fastapi-offline`` package (Swagger UI and ReDoc bundles installed with Sentinel), Swagger UI
is started by a file of ours, and both pages are behind login like the API they describe
(``sentinel/api/permissions.py``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from sentinel.api.console.rendering import CSP

router = APIRouter(include_in_schema=False)

VENDOR = Path(str(files("fastapi_offline") / "static"))
OURS = Path(__file__).resolve().parent / "static"
ASSETS = {
    "swagger-ui-bundle.js": VENDOR,
    "swagger-ui.css": VENDOR,
    "redoc.standalone.js": VENDOR,
    "swagger-init.js": OURS,
}
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
# ReDoc builds its styles at run time (styled-components inserts <style> elements), which
# style-src 'self' blocks; its page alone also allows inline styles. Scripts stay 'self' only.
REDOC_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sentinel API</title>
<link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/assets/swagger-init.js"></script>
</body></html>"""

REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sentinel API — ReDoc</title>
<link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml"></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/docs/assets/redoc.standalone.js"></script>
</body></html>"""


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return HTMLResponse(SWAGGER, headers=HEADERS)


@router.get("/redoc")
def redoc() -> HTMLResponse:
    return HTMLResponse(REDOC, headers={**HEADERS, "Content-Security-Policy": REDOC_CSP})


@router.get("/docs/assets/{name}")
def asset(name: str) -> FileResponse:
    folder = ASSETS.get(name)
    if folder is None or not (folder / name).is_file():
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(folder / name, headers={**HEADERS, "Cache-Control": "max-age=86400"})
