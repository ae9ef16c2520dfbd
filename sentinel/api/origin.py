"""Same-origin check for every state-changing request, in every mode (demo included).

A page from another origin — another site, or another port on this machine — can make a
browser send a form post to the console; the session cookie is ``SameSite=Strict`` and cookie
writes carry a CSRF token, but the demo has no session at all. So a request that is not
GET/HEAD/OPTIONS is refused with 403 when the browser says it came from elsewhere: an
``Origin`` header that is not this server (its ``Host``) nor one of ``api.origins``, or, without
``Origin``, ``Sec-Fetch-Site: cross-site``/``same-site``. Requests with an ``Authorization``
header are scripts with credentials (a page cannot add that header across origins without a
CORS preflight, which this server never grants) and pass; so do clients that send neither header
(curl, collectors).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


class SameOrigin:
    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = {_origin_key(o) for o in allowed}

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None when it may go on."""
        if scope["type"] != "http" or scope["method"] in SAFE:
            return None
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if "authorization" in headers:
            return None
        origin = headers.get("origin")
        if origin is None:
            if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
                return "a page from another site may not change anything here"
            return None
        if origin == "null":
            return "a request from an opaque origin may not change anything here"
        parts = urlsplit(origin)
        if parts.netloc.lower() == headers.get("host", "").lower() or _origin_key(origin) in self.allowed:
            return None
        return f"a page from {origin} may not change anything here (add it to api.origins if it is yours)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        body = ('{"detail":"cross-origin request refused: ' + reason.replace('"', "'") + '"}').encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
