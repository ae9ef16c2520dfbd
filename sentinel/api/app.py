"""The FastAPI application: JSON API under /api, health, OpenAPI at /openapi.json and /docs.

Each stage contributes a router from its own module; ``create_app`` mounts them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from sentinel import __version__
from sentinel.api import alerts, cases, console, events
from sentinel.api import classifications as classifications_api
from sentinel.api import docs as docs_api
from sentinel.api import ingest as ingest_api
from sentinel.api import login as login_api
from sentinel.api import respond as respond_api
from sentinel.api.accounts import Accounts
from sentinel.api.auth import Authenticator, LocalOperator, SentinelAuthenticator
from sentinel.api.limits import BodySizeLimit
from sentinel.api.origin import SameOrigin
from sentinel.api.permissions import authorize
from sentinel.audit import AuditLog
from sentinel.config import Settings
from sentinel.errors import Conflict, Denied, Invalid, NotFound, SentinelError, Unavailable
from sentinel.runtime import Runtime
from sentinel.store import Store, StoreError, open_store

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# What each kind of error means to an HTTP client (the CLI's table is in sentinel.cli.main).
HTTP_STATUS: dict[type[SentinelError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 400,
    Denied: 403,
    Unavailable: 503,
}


def default_authenticator(settings: Settings, accounts: Accounts) -> Authenticator:
    """Real authentication; the anonymous single-user demo only when asked for (``auth.mode: demo``) on loopback."""
    if settings.auth.mode == "demo":
        if settings.api.host not in LOOPBACK:
            raise Invalid(
                f"demo mode lets every caller act as the SOC lead: it serves loopback only, not {settings.api.host}"
            )
        return LocalOperator()
    oidc = None
    if settings.auth.oidc is not None:
        from sentinel.api.oidc import OidcValidator

        oidc = OidcValidator(settings.auth.oidc)
    return SentinelAuthenticator(accounts, oidc)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    ingest_api.reopen_pipeline(app)
    yield
    ingest_api.close_pipeline(app)  # the writer process writes what is queued and ends with the server


def create_app(settings: Settings, store: Store | None = None, authenticator: Authenticator | None = None) -> FastAPI:
    """Build the app around a store (opened from ``settings`` when not given)."""
    app = FastAPI(
        lifespan=_lifespan,
        dependencies=[Depends(authorize)],  # deny by default: see sentinel/api/permissions.py
        docs_url=None,  # /docs and /redoc are served offline and behind login by sentinel.api.docs
        redoc_url=None,
        title="Sentinel",
        version=__version__,
        description="Security monitoring and personal-data classification for Vietnam's e-government.",
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(SameOrigin, allowed=settings.api.origins)
    app.state.runtime = Runtime(settings)
    app.state.settings = settings
    app.state.store = store or open_store(settings)
    # processes protecting POST /api/ingest batches (the writer process and its workers): the setting,
    # else the writer alone (`sentinel serve`: one per core)
    app.state.ingest_workers = settings.workers or 1
    app.state.audit = AuditLog(settings.audit_path)
    app.state.accounts = Accounts(
        settings.accounts_path,
        lockout_threshold=settings.auth.lockout_threshold,
        lockout_minutes=settings.auth.lockout_minutes,
        session_hours=settings.auth.session_hours,
    )
    app.state.login_limiter = login_api._RateLimiter(settings.auth.login_attempts_per_minute)
    app.state.login_refusals = login_api._Refusals()
    app.state.authenticator = authenticator or default_authenticator(settings, app.state.accounts)

    @app.get("/health", tags=["health"])
    def health() -> dict:
        """Liveness and the store in use."""
        return {"status": "ok", "version": __version__, "store": app.state.store.backend}

    @app.exception_handler(SentinelError)
    def _sentinel_error(request: Request, exc: SentinelError) -> JSONResponse:
        """Errors a route did not answer itself: one table from kind to status."""
        status = next((code for kind, code in HTTP_STATUS.items() if isinstance(exc, kind)), 500)
        detail = f"store unavailable: {exc}" if isinstance(exc, StoreError) else str(exc)
        return JSONResponse(status_code=status, content={"detail": detail})

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        """A console page refused by the role table is a page in the reader's language; the rest is JSON."""
        return console.refused_page(request, exc) or await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return console.refused_page(request, exc) or await request_validation_exception_handler(request, exc)

    app.include_router(login_api.router)
    app.include_router(docs_api.router)
    app.include_router(events.router)
    app.include_router(alerts.router)
    app.include_router(respond_api.router)
    app.include_router(cases.router)
    app.include_router(console.router)
    app.include_router(classifications_api.router)
    app.include_router(ingest_api.router)
    return app
