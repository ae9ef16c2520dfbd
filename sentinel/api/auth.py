"""Who is calling: the :class:`Principal` every endpoint receives.

``app.state.authenticator`` turns a request into a principal:

- :class:`SentinelAuthenticator` (deployments): ``Authorization: Bearer`` with an
  API token or an OIDC JWT, or the console's session cookie. Requests
  authenticated by cookie must also carry the session's CSRF token (header
  ``X-CSRF-Token`` or form field ``csrf_token``) on every state-changing method.
- :class:`LocalOperator` (the single-user demo on loopback, ``auth.mode: demo`` only):
  every caller is the local SOC lead.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING, Protocol

from fastapi import HTTPException, Request

from sentinel.audit import Actor, set_actor
from sentinel.identity import Principal

if TYPE_CHECKING:
    from sentinel.api.accounts import Accounts
    from sentinel.api.oidc import OidcValidator

SESSION_COOKIE = "sentinel_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Authenticator(Protocol):
    def authenticate(self, request: Request) -> Principal | None:
        """The caller, or None when the request carries no valid credentials.

        An authenticator that accepts a cookie sets ``request.state.session_csrf``
        so :func:`current_principal` can demand the CSRF token.
        """
        ...


class LocalOperator:
    """Every caller is the local SOC lead: only for the embedded single-user demo on loopback."""

    def authenticate(self, request: Request) -> Principal | None:
        if request.headers.get("authorization"):
            return None  # credentials were presented and did not check out: refuse rather than ignore them
        return Principal(name="local", role="soc_lead")


class SentinelAuthenticator:
    """API tokens, OIDC bearer JWTs and console sessions."""

    def __init__(self, accounts: Accounts, oidc: OidcValidator | None = None) -> None:
        self.accounts = accounts
        self.oidc = oidc

    def authenticate(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential:
            credential = credential.strip()
            if credential.count(".") == 2 and self.oidc is not None:
                return self.oidc.principal(credential)
            return self.accounts.principal_for_token(credential)
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            session = self.accounts.session(sid)
            if session is not None:
                request.state.session_csrf = session.csrf
                return session.principal
        return None


def shared_ingest_token(request: Request) -> Principal | None:
    """A collector presenting the deployment-wide ingest token (the ``ingest_token`` setting), if one is set.

    Per-collector API tokens (``sentinel tokens create NAME --role collector``) are preferred:
    they can be revoked one by one.
    """
    secret = request.app.state.runtime.settings.ingest_token
    expected = secret.get_secret_value() if secret else ""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if expected and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
        return Principal(name=request.headers.get("x-sentinel-collector", "collector")[:64], role="collector")
    return None


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401; 403 when a cookie request lacks its CSRF token."""
    known = getattr(request.state, "principal", None)
    if known is not None:  # already checked by the app-wide authorisation for this request
        return known
    principal = shared_ingest_token(request) or request.app.state.authenticator.authenticate(request)
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="authentication required: log in at /auth/login or send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = getattr(request.state, "session_csrf", None)
    if expected is not None and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = (await request.form()).get("csrf_token")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
            raise HTTPException(status_code=403, detail="missing or wrong CSRF token: reload the page and try again")
    request.state.principal = principal
    set_actor(
        Actor(
            principal.name,
            principal.role,
            "/".join(p for p in (principal.province, principal.commune) if p) or None,
            client_address(request),
        )
    )
    return principal


def client_address(request: Request) -> str:
    """The caller's address as the audit trail and the login limits see it.

    ``X-Forwarded-For`` is believed only from a proxy listed in ``api.trusted_proxies``: then the
    client is the right-most address in it that is not itself a trusted proxy. From anyone else
    the header is ignored, so a caller cannot pick the address its failures are counted under.
    """
    peer = request.client.host if request.client else "unknown"
    proxies = request.app.state.settings.api.trusted_proxies
    forwarded = request.headers.get("x-forwarded-for")
    if not proxies or not forwarded or not _trusted(peer, proxies):
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _trusted(hop, proxies):
            return hop[:64]
    return peer


def _trusted(address: str, proxies: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a peer named rather than numbered (a Unix socket, a test client)
        return address in proxies
    networks = []
    for p in proxies:
        try:
            networks.append(ipaddress.ip_network(p, strict=False))
        except ValueError:
            continue
    return any(ip in net for net in networks)
