"""/auth: console login and logout, and who-am-I for scripts and pages.

Logins are rate limited per client address (a sliding minute) on top of the
lockout per user name and address in :mod:`sentinel.api.accounts`. Successful logins
are written to the audit trail one by one; refused ones are counted per address and
written at most once a minute per address with their count, so a flood of attempts
cannot grow the trail (or its fsyncs) without bound. User names are cut at
``MAX_NAME`` characters before anything is looked up or written.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sentinel.api.accounts import MAX_NAME, LockedOut, LoginFailed
from sentinel.api.auth import SESSION_COOKIE, client_address, current_principal
from sentinel.api.console.i18n import LANGS, language, remember_language, translator
from sentinel.identity import Principal

router = APIRouter(prefix="/auth", tags=["auth"])

LOGIN_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Sentinel — {title}</title>
<link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml">
<style>*{{box-sizing:border-box}}body{{font-family:system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:flex;justify-content:center;
padding-top:12vh}}form{{background:#1e293b;padding:2rem;border-radius:8px;min-width:320px}}label{{display:block;
margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;border-radius:4px;border:1px solid #475569;background:#0f172a;
color:#e2e8f0}}button{{margin-top:1.2rem;width:100%;padding:.6rem;background:#2563eb;color:white;border:0;
border-radius:4px}}.err{{color:#fca5a5}}.lang{{margin-top:1rem;text-align:right}}.lang a{{color:#93c5fd}}</style></head>
<body><form method="post" action="/auth/login"><h1>Sentinel</h1>{error}
<input type="hidden" name="next" value="{next}">
<label for="username">{user_label}</label><input id="username" name="username" autocomplete="username"
 required><label for="password">{password_label}</label><input id="password" name="password" type="password"
 autocomplete="current-password" required><button type="submit">{submit}</button>
<p class="lang">{languages}</p></form></body></html>"""


class _RateLimiter:
    """At most ``limit`` attempts per client address in any 60 seconds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        q = self.hits[key]
        while q and q[0] < now - 60:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


class _Refusals:
    """Refused logins per client address; says when to write them to the audit trail (once a minute each)."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[float, int]] = {}  # address -> (when last written, refusals since)

    def note(self, client: str) -> int | None:
        """Count one refusal; the number to write now (this one included), or None to keep counting."""
        now = time.monotonic()
        if len(self.pending) > 10_000:  # forget the quiet addresses rather than grow without bound
            self.pending = {a: v for a, v in self.pending.items() if now - v[0] < 60}
        written, count = self.pending.get(client, (now - 61, 0))
        count += 1
        if now - written >= 60:
            self.pending[client] = (now, 0)
            return count
        self.pending[client] = (written, count)
        return None


def _safe_next(value: str | None) -> str:
    # only local paths: never an open redirect to another site
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_html(request, next, None)


def _login_html(request: Request, next_url: str | None, error: str | None) -> HTMLResponse:
    """The login form in the console's language for this browser (``?lang=``, its cookie, Accept-Language)."""
    lang = language(request)
    t = translator(lang)
    target = _safe_next(next_url)
    links = " ".join(
        f'<a href="/auth/login?{escape(urlencode({"next": target, "lang": code}))}">{code.upper()}</a>'
        for code in LANGS
    )
    page = HTMLResponse(
        LOGIN_PAGE.format(
            lang=lang,
            title=escape(t("login_title")),
            error=f'<p class="err" id="login-error">{escape(error)}</p>' if error else "",
            next=escape(target),
            user_label=escape(t("login_user")),
            password_label=escape(t("login_password")),
            submit=escape(t("login_submit")),
            languages=links,
        )
    )
    remember_language(request, page)
    return page


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """Log in with ``username`` and ``password`` (form or JSON). Sets the session cookie.

    A form post is redirected to ``next`` (default the console); a JSON post gets
    the caller and the CSRF token to send as ``X-CSRF-Token`` on later writes.
    """
    app = request.app
    accounts = getattr(app.state, "accounts", None)
    if accounts is None:
        raise HTTPException(status_code=404, detail="this server has no local accounts (demo mode)")
    is_json = request.headers.get("content-type", "").startswith("application/json")
    data: Any = await request.json() if is_json else dict(await request.form())
    if not isinstance(data, dict):
        raise HTTPException(status_code=422, detail="send username and password")
    username, password = str(data.get("username", ""))[:MAX_NAME], str(data.get("password", ""))
    client = client_address(request)
    limiter: _RateLimiter = app.state.login_limiter
    if not limiter.allow(client):
        _refused(app, client, username, "rate_limited")
        raise HTTPException(
            status_code=429,
            detail="too many login attempts from this address; wait a minute",
            headers={"Retry-After": "60"},
        )
    try:
        principal = accounts.login(username, password, client)
    except LockedOut as exc:
        _refused(app, client, username, "locked")
        minutes = int(exc.seconds // 60) + 1
        return _login_failure(request, is_json, str(exc), ("login_locked", {"minutes": minutes}), 423, data)
    except LoginFailed as exc:
        _refused(app, client, username, "failed")
        return _login_failure(request, is_json, str(exc), ("login_failed", {}), 401, data)
    sid, csrf = accounts.create_session(principal)
    app.state.audit.record(principal.name, "login", client, role=principal.role)
    response: Response
    if is_json:
        response = JSONResponse({"name": principal.name, "role": principal.role, "csrf_token": csrf})
    else:
        response = RedirectResponse(_safe_next(data.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        httponly=True,
        samesite="strict",
        path="/",
        secure=app.state.settings.auth.secure_cookies,
        max_age=int(app.state.settings.auth.session_hours * 3600),
    )
    return response


def _refused(app: Any, client: str, username: str, why: str) -> None:
    count = app.state.login_refusals.note(client)
    if count is not None:
        app.state.audit.record(username or "-", "login.refused", client, reason=why, refusals=count)


def _login_failure(
    request: Request, is_json: bool, message: str, shown: tuple[str, dict[str, Any]], status: int, data: dict
) -> Response:
    """The refusal: ``message`` to a script, the catalogue's ``shown`` message on the form in the reader's language."""
    if is_json:
        return JSONResponse({"detail": message}, status_code=status)
    key, values = shown
    next_url = data.get("next")
    page = _login_html(request, str(next_url) if next_url else None, translator(language(request))(key, **values))
    page.status_code = status
    return page


@router.post("/logout", include_in_schema=False)
def logout(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    accounts = getattr(request.app.state, "accounts", None)
    if sid and accounts is not None:
        accounts.end_session(sid)
    request.app.state.audit.record(principal.name, "logout")
    response = RedirectResponse("/auth/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/whoami")
def whoami(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    """The caller, and for console sessions the CSRF token to send on writes."""
    return {
        "name": principal.name,
        "role": principal.role,
        "province": principal.province,
        "commune": principal.commune,
        "csrf_token": getattr(request.state, "session_csrf", None),
    }
