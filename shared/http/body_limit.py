"""Refusing request bodies over a size, before they are read.

Without it a 30 MB body to any route is read whole into memory before the route refuses
it; nginx caps bodies only in Compose, and `board up` faces clients directly.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.errors import framework_error_response

TOO_LARGE = 413


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body grows past the limit. An HTTPException, so the
    APIs' own handlers (and FastAPI's body parsing, which re-raises those) answer it 413."""

    def __init__(self) -> None:
        super().__init__(TOO_LARGE)


class BodyLimit:
    """ASGI middleware: 413 `request_too_large` for a body over `max_bytes`.

    A declared `Content-Length` over the limit is answered at once, without reading a byte
    (nor inviting the client's `Expect: 100-continue`); a body sent in chunks is cut off as
    soon as what arrived passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await framework_error_response(TOO_LARGE)(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            # An app without the APIs' handlers (the operations endpoints) let it through.
            if started:
                raise
            await framework_error_response(TOO_LARGE)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
