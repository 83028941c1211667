"""Cross-site request forgery: a token in every form, and no foreign `Origin` on a write.

The token lives in the signed session cookie (SameSite=Strict) and is compared with the
form's field; the origin check refuses a write that a browser says came from elsewhere
before any endpoint reads it.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

FIELD = "csrf_token"
_SESSION_KEY = "csrf"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(request: Request) -> str:
    """The session's token, made on first use (the sign-in page's included)."""
    token: str | None = request.session.get(_SESSION_KEY)
    if token is None:
        token = request.session[_SESSION_KEY] = secrets.token_urlsafe(32)
    return token


async def has_valid_token(request: Request) -> bool:
    sent = (await request.form()).get(FIELD)
    expected = request.session.get(_SESSION_KEY)
    return (
        isinstance(sent, str)
        and expected is not None
        and hmac.compare_digest(sent.encode(), str(expected).encode())
    )


class SameOriginWrites:
    """Refuse (403) a write whose `Origin` is not this site, or that the browser marks as
    cross-site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS:
            request = Request(scope)
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            cross_site = request.headers.get("sec-fetch-site") == "cross-site"
            if cross_site or (origin is not None and origin != own):
                refused = PlainTextResponse("Запрос с чужого сайта отклонён.", status_code=403)
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
