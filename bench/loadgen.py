"""A lean HTTP/1.1 keep-alive client for the load process.

The load generator shares the machine's two cores with the stack, so it must cost
little: with this client the whole load process used about 0.5 ms of CPU per event
created, body included (`cpu_load_pct` in `bench/results/create_events.json`);
`bench/create_events.py --client httpx` runs the same load through httpx to compare.
It speaks just what the gateway answers: HTTP/1.1, keep-alive, bodies with a
Content-Length.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self._host}"]
        head.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
        received: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            received[name.strip().lower()] = value.strip()
        if received.get("transfer-encoding"):
            raise ValueError("chunked responses are not supported")
        length = int(received.get("content-length", "0"))
        content = await self._reader.readexactly(length) if length else b""
        return Response(int(status_line.split(" ", 2)[1]), received, content)

    def close(self) -> None:
        self._writer.close()


class ConnectionPool:
    """`size` keep-alive connections to one server; a request holds one at a time."""

    def __init__(self, base_url: str, size: int) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._size = size
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        self._all: set[Connection] = set()

    async def open(self) -> ConnectionPool:
        for _ in range(self._size):
            self._idle.put_nowait(await self._connect())
        return self

    async def _connect(self) -> Connection:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        connection = Connection(reader, writer, f"{self._host}:{self._port}")
        self._all.add(connection)
        return connection

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for a request or two; one left in an unknown state is replaced."""
        connection = await self._idle.get()
        try:
            yield connection
        except BaseException:
            connection.close()
            self._all.discard(connection)
            self._idle.put_nowait(await self._connect())
            raise
        self._idle.put_nowait(connection)

    def close(self) -> None:
        for connection in self._all:
            connection.close()


def event_body(number: int, *, days_ahead: int = 30) -> bytes:
    """The body of POST /api/events/: a valid event starting in the future."""
    start = datetime.now(UTC) + timedelta(days=days_ahead, minutes=number % 1440)
    return json.dumps(
        {
            "title": f"Benchmark event {number}",
            "description": "An evening of chamber music in the old hall; "
            "programme: Haydn, Schubert, Shostakovich. Doors open 30 minutes before.",
            "start_time": start.isoformat(),
            "location": "Москва, Большой зал",
            "seats": 100,
            "tags": ["music", "bench"],
        },
        ensure_ascii=False,
    ).encode()


def json_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
