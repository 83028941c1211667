"""Refusing requests whose headers outweigh anything a client of the board sends.

The HTTP server in front (httptools) reads headers of any size: a megabyte of them would
otherwise be parsed into every request's scope and handed to the APIs. No client of the
board needs more than a token and a few short headers, so a request whose header block
passes `MAX_HEADER_BYTES` is answered 431 in the error shape before any API sees it.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import framework_error_response

# nginx's default allows four 8 KB lines; a token and the board's own headers take ~1 KB.
MAX_HEADER_BYTES = 16 * 1024
STATUS = 431
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


class HeaderLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._too_large(scope["headers"]):
            await framework_error_response(STATUS)(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _too_large(self, headers: list[tuple[bytes, bytes]]) -> bool:
        return sum(len(name) + len(value) for name, value in headers) > self._max_bytes


def document_header_limit(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation of `document` may answer 431; returns the document."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault(
                str(STATUS),
                {
                    "description": f"Заголовки запроса больше {MAX_HEADER_BYTES // 1024} КБ",
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
            )
    return document
