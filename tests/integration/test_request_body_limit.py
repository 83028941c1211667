"""Bodies over the limit (1 MiB) are refused with 413 before they are read, on every route.

The gateway is called as its server calls it, with a `receive` that counts what the app
pulls: a body that is refused unread is never pulled.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp, Message

from gateway.app import create_app
from shared.read_model.migrate import upgrade
from shared.settings import Settings

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
CHUNK = 64 * 1024
ROUTES = [
    ("POST", "/api/users/login/"),
    ("POST", "/api/users/register/"),
    ("POST", "/api/events/"),
    ("PATCH", f"/api/events/{uuid4()}/"),
    ("GET", "/api/events/"),
    ("POST", "/healthz"),
    ("POST", "/no/such/route/"),
]


@dataclass
class Exchange:
    """One request to the app: what it pulled of the body, and what it answered."""

    chunks: list[bytes]
    endless: bool = False
    pulled: int = 0
    messages: list[Message] = field(default_factory=list)

    async def receive(self) -> Message:
        self.pulled += 1
        if self.endless:
            return {"type": "http.request", "body": b"x" * CHUNK, "more_body": True}
        body = self.chunks.pop(0) if self.chunks else b""
        return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        status: int = self.messages[0]["status"]
        return status

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.messages[1:]))


def scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[ASGIApp]:
    upgrade(settings.database_url)
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        yield manager.app


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_body_declared_over_a_mebibyte_is_refused_unread(
    gateway: ASGIApp, method: str, path: str
) -> None:
    exchange = Exchange(chunks=[b"x" * CHUNK])
    declared = [(b"content-length", str(30 * MIB).encode())]

    await gateway(scope(method, path, declared), exchange.receive, exchange.send)

    assert exchange.status == 413
    assert exchange.body == {"detail": "Слишком большой запрос.", "code": "request_too_large"}
    assert exchange.pulled == 0


@pytest.mark.parametrize(("method", "path"), ROUTES[:4])
async def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_a_mebibyte(
    gateway: ASGIApp, method: str, path: str
) -> None:
    exchange = Exchange(chunks=[], endless=True)
    chunked = [(b"transfer-encoding", b"chunked")]

    await gateway(scope(method, path, chunked), exchange.receive, exchange.send)

    assert exchange.status == 413
    assert exchange.body["code"] == "request_too_large"
    assert exchange.pulled == MIB // CHUNK + 1


async def test_a_body_within_the_limit_is_read_and_answered_as_before(
    gateway: ASGIApp,
) -> None:
    credentials = json.dumps({"username": "nobody", "password": "p" * 1000}).encode()
    padded = credentials + b" " * (MIB - len(credentials))
    exchange = Exchange(chunks=[padded[i : i + CHUNK] for i in range(0, MIB, CHUNK)])
    declared = [(b"content-length", str(MIB).encode())]

    await gateway(scope("POST", "/api/users/login/", declared), exchange.receive, exchange.send)

    assert exchange.status == 401
    assert exchange.body["code"] == "invalid_credentials"
