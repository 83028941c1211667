"""Sending each request straight to the API that serves its path and method, in-process."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HTTP_METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options", "trace"})


@dataclass(frozen=True)
class Endpoint:
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    app: ASGIApp


def endpoints_of(app: FastAPI) -> list[Endpoint]:
    """Every operation the app documents (not its own docs pages, which the gateway replaces).

    Read from the OpenAPI document, the app's public description of itself, rather than
    from FastAPI's internal route tree.
    """
    return [
        Endpoint(path, compile_path(path)[0], frozenset(m.upper() for m in methods), app)
        for path, item in app.openapi()["paths"].items()
        if (methods := _HTTP_METHODS.intersection(item))
    ]


@dataclass(frozen=True)
class Resolution:
    """Where a request goes: an endpoint, or the methods its path allows (none: unknown path)."""

    endpoint: Endpoint | None
    allowed: frozenset[str]


class RouteTable:
    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self._endpoints = tuple(endpoints)

    def resolve(self, method: str, path: str) -> Resolution:
        wanted = "GET" if method == "HEAD" else method
        allowed: set[str] = set()
        for endpoint in self._endpoints:
            if endpoint.pattern.match(path):
                if wanted in endpoint.methods:
                    return Resolution(endpoint, frozenset())
                allowed |= endpoint.methods
        if not allowed and not path.endswith("/"):
            # The API redirects to the path with a trailing slash, as Starlette does.
            with_slash = self.resolve(method, path + "/")
            if with_slash.endpoint is not None:
                return with_slash
        if "GET" in allowed:
            allowed.add("HEAD")
        return Resolution(None, frozenset(allowed))


async def head_as_get(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer HEAD with the GET endpoint's status and headers, without its body."""

    async def send_without_body(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    await app({**scope, "method": "GET"}, receive, send_without_body)
