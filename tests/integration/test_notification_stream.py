"""The live notification stream, driven at the ASGI level: the board in one process, the
notifier fed live, a client that can hang up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message

from board.environment import replace_settings
from query_api.notification_stream import StreamHub
from shared.settings import Settings
from tests.integration.conftest import Account, BoardApi

pytestmark = pytest.mark.integration

HEARTBEAT_SECONDS = 0.2
HEARTBEAT = ": ping\n\n"
WAIT_SECONDS = 10.0


@pytest.fixture
def board_settings(settings: Settings) -> Settings:
    return replace_settings(settings, stream_heartbeat_seconds=HEARTBEAT_SECONDS)


class OpenStream:
    """One GET of the stream: the messages the app sends, and a client that hangs up."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self._app = app
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._sent: asyncio.Queue[Message] = asyncio.Queue()
        self._hung_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> OpenStream:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/notifications/stream/",
            "raw_path": b"/api/notifications/stream/",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test"), *self._headers],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        self._task = asyncio.create_task(self._app(scope, self._receive, self._sent.put))
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.hang_up()

    async def _receive(self) -> Message:
        await self._hung_up.wait()
        return {"type": "http.disconnect"}

    async def start(self) -> Message:
        async with asyncio.timeout(WAIT_SECONDS):
            message = await self._sent.get()
        assert message["type"] == "http.response.start"
        return message

    async def chunk(self) -> str:
        """The next piece of the body with something in it."""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                message = await self._sent.get()
                if message.get("body"):
                    return bytes(message["body"]).decode()

    async def notification(self) -> dict[str, Any]:
        """The next notification event (heartbeats may come before it on a slow machine)."""
        while (chunk := await self.chunk()) == HEARTBEAT:
            pass
        return fields(chunk)

    async def hang_up(self) -> None:
        self._hung_up.set()
        if self._task is not None:
            async with asyncio.timeout(WAIT_SECONDS):
                await self._task


def fields(chunk: str) -> dict[str, Any]:
    lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines())
    return {**lines, "data": json.loads(lines["data"])}


def hub_of(api: BoardApi) -> StreamHub:
    hub: StreamHub = api.query_app.state.stream_hub
    return hub


@contextmanager
def notification_reads(api: BoardApi) -> Iterator[list[str]]:
    """The statements about notifications the query API runs meanwhile."""
    engine: AsyncEngine = api.query_app.state.engine
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statement: str = args[2]
        if "notifications" in statement:
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def event_of(api: BoardApi, organizer: Account) -> str:
    event_id: str = (await api.create_event(organizer)).json()["id"]
    return event_id


async def test_a_booking_reaches_an_open_stream_and_hanging_up_frees_the_stream(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    event_id = await event_of(board_api, organizer)

    async with OpenStream(board_api.app, anna.headers) as stream:
        started = await stream.start()
        assert started["status"] == 200
        assert (b"content-type", b"text/event-stream; charset=utf-8") in started["headers"]
        assert hub_of(board_api).open_streams == 1
        booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=anna.headers)
        assert booked.status_code == 201, booked.text

        received = await stream.notification()

    assert received["event"] == "notification"
    assert received["data"]["type"] == "booking"
    assert received["data"]["event_id"] == event_id
    assert received["id"] == received["data"]["id"]
    shown = await board_api.http.get(f"/api/notifications/{received['id']}/", headers=anna.headers)
    assert received["data"] == shown.json()
    assert hub_of(board_api).open_streams == 0


async def test_an_idle_stream_gets_heartbeat_comments_and_not_others_notifications(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    boris = await board_api.account("boris")
    event_id = await event_of(board_api, organizer)

    async with OpenStream(board_api.app, anna.headers) as stream:
        await stream.start()
        booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=boris.headers)
        assert booked.status_code == 201, booked.text
        await board_api.http.get(
            "/api/notifications/",
            headers={**boris.headers, "X-Min-Position": booked.headers["X-Event-Position"]},
        )

        assert await stream.chunk() == HEARTBEAT
        assert await stream.chunk() == HEARTBEAT


async def test_a_stream_needs_a_signed_in_caller(board_api: BoardApi) -> None:
    response = await board_api.http.get("/api/notifications/stream/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_resuming_after_the_last_event_id_sends_exactly_what_was_missed_in_order(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    event_id = await event_of(board_api, organizer)
    book, cancel = f"/api/events/{event_id}/book/", f"/api/events/{event_id}/cancel_booking/"
    async with OpenStream(board_api.app, anna.headers) as stream:
        await stream.start()
        assert (await board_api.http.post(book, headers=anna.headers)).status_code == 201
        last_seen = (await stream.notification())["id"]

    assert (await board_api.http.post(cancel, headers=anna.headers)).status_code == 200
    again = await board_api.http.post(book, headers=anna.headers)
    listed = await board_api.http.get(
        "/api/notifications/",
        headers={**anna.headers, "X-Min-Position": again.headers["X-Event-Position"]},
    )
    assert listed.json()["count"] == 3

    async with OpenStream(board_api.app, {**anna.headers, "Last-Event-ID": last_seen}) as stream:
        await stream.start()
        missed = [await stream.notification() for _ in range(2)]
        after_them = await stream.chunk()

    assert [m["data"]["type"] for m in missed] == ["cancel", "booking"]
    assert last_seen not in {m["id"] for m in missed}
    assert after_them == HEARTBEAT


async def test_an_idle_stream_asks_the_database_nothing_between_heartbeats(
    board_api: BoardApi,
) -> None:
    anna = await board_api.account("anna")
    async with OpenStream(board_api.app, anna.headers) as stream:
        await stream.start()
        await asyncio.sleep(HEARTBEAT_SECONDS)  # the read every new stream makes once
        with notification_reads(board_api) as statements:
            for _ in range(3):
                assert await stream.chunk() == HEARTBEAT

    assert statements == []


async def test_a_users_streams_share_one_read_per_notice(board_api: BoardApi) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    event_id = await event_of(board_api, organizer)
    streams = [OpenStream(board_api.app, anna.headers) for _ in range(5)]
    for stream in streams:
        await stream.__aenter__()
        await stream.start()
    try:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        with notification_reads(board_api) as statements:
            booked = await board_api.http.post(
                f"/api/events/{event_id}/book/", headers=anna.headers
            )
            assert booked.status_code == 201, booked.text
            received = [await stream.notification() for stream in streams]
    finally:
        for stream in streams:
            await stream.hang_up()

    assert len({r["id"] for r in received}) == 1
    assert len(statements) == 1


async def test_a_stream_resuming_from_long_ago_beside_a_live_one_misses_nothing(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    event_id = await event_of(board_api, organizer)
    book, cancel = f"/api/events/{event_id}/book/", f"/api/events/{event_id}/cancel_booking/"
    async with OpenStream(board_api.app, anna.headers) as live:
        await live.start()
        seen = []
        for path in (book, cancel, book):
            assert (await board_api.http.post(path, headers=anna.headers)).status_code < 300
            seen.append(await live.notification())
        headers = {**anna.headers, "Last-Event-ID": seen[0]["id"]}
        async with OpenStream(board_api.app, headers) as resumed:
            await resumed.start()
            missed = [await resumed.notification() for _ in range(2)]
            assert await resumed.chunk() == HEARTBEAT
        assert await live.chunk() == HEARTBEAT

    assert [m["id"] for m in missed] == [s["id"] for s in seen[1:]]
