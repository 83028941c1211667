"""The anonymous page cache as an ASGI layer: what it keeps and what it passes through."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from starlette.types import Message, Receive, Scope, Send

from query_api import page_cache
from query_api.page_cache import PageCache
from query_api.watermarks import WatermarkWatcher
from shared.integration.names import EVENTS_PROJECTION


class Listing:
    """An ASGI app that answers each GET with the next status of `statuses`."""

    def __init__(self, *statuses: int, delay: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.delay = delay
        self.calls = 0
        watcher = WatermarkWatcher("postgresql://unused")
        watcher._advance(EVENTS_PROJECTION, 5)
        self.state = SimpleNamespace(watermarks=watcher)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = self.statuses[self.calls]
        self.calls += 1
        body = f"{self.calls}".encode()
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def get(
    cache: PageCache, app: Listing, *headers: tuple[bytes, bytes], query: bytes = b""
) -> tuple[int, bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "scheme": "http",
        "method": "GET",
        "path": "/api/events/",
        "query_string": query,
        "headers": [(b"host", b"test"), *headers],
        "app": app,
    }
    await cache(scope, receive, send)
    return sent[0]["status"], sent[1]["body"]


async def test_a_page_is_sent_again_without_asking_the_app() -> None:
    app = Listing(200, 200)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)

    assert await get(cache, app) == (200, b"1")
    assert await get(cache, app) == (200, b"1")
    assert app.calls == 1


async def test_an_error_answer_is_not_kept() -> None:
    app = Listing(404, 200)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)

    assert await get(cache, app) == (404, b"1")
    assert await get(cache, app) == (200, b"2")


async def test_a_read_asking_for_a_position_the_page_does_not_reflect_is_built_again() -> None:
    app = Listing(200, 200, 200)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)
    await get(cache, app)

    reflected = await get(cache, app, (b"x-min-position", b"5"))
    later = await get(cache, app, (b"x-min-position", b"6"))

    assert reflected == (200, b"1")
    assert later == (200, b"2")


async def test_a_signed_in_read_always_reaches_the_app() -> None:
    app = Listing(200, 200)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)
    await get(cache, app)

    assert await get(cache, app, (b"authorization", b"Bearer t")) == (200, b"2")


async def test_a_position_that_is_not_plain_digits_is_left_to_the_app() -> None:
    app = Listing(400)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)

    assert await get(cache, app, (b"x-min-position", b"\xb2")) == (400, b"1")


async def test_requests_for_a_page_being_built_wait_for_it_instead_of_building_it_too() -> None:
    app = Listing(200, 200, delay=0.05)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)

    answers = await asyncio.gather(*(get(cache, app) for _ in range(10)))

    assert answers == [(200, b"1")] * 10
    assert app.calls == 1


async def test_requests_waiting_for_a_page_that_failed_build_their_own() -> None:
    app = Listing(500, 200, 200, delay=0.05)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)

    first, *others = await asyncio.gather(*(get(cache, app) for _ in range(3)))

    assert first == (500, b"1")
    assert sorted(others) == [(200, b"2"), (200, b"3")]


async def test_pages_beyond_the_size_bound_drop_the_least_recently_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every body here is one byte, every key as long: two pages fit.
    key = len("http") + len("test") + len("/api/events/") + len("page=1")
    monkeypatch.setattr(
        page_cache, "MAX_KEPT_BYTES", 2 * (1 + key + page_cache.PAGE_OVERHEAD_BYTES)
    )
    app = Listing(200, 200, 200, 200)
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)
    await get(cache, app, query=b"page=1")
    await get(cache, app, query=b"page=2")
    await get(cache, app, query=b"page=1")

    await get(cache, app, query=b"page=3")

    assert await get(cache, app, query=b"page=1") == (200, b"1")
    assert await get(cache, app, query=b"page=2") == (200, b"4")


async def test_long_query_strings_count_towards_the_bound_so_a_flood_of_keys_is_dropped() -> None:
    # Parameters the listing ignores, on an empty listing: tiny bodies, long keys.
    floods = [f"page=1&junk{n}={'x' * 8000}".encode() for n in range(2200)]
    app = Listing(*[200] * (len(floods) + 1))
    cache = PageCache(app, paths={"/api/events/"}, seconds=60)
    for query in floods:
        await get(cache, app, query=query)

    first_again = await get(cache, app, query=floods[0])

    assert len(floods) * 8000 > page_cache.MAX_KEPT_BYTES
    assert first_again == (200, f"{len(floods) + 1}".encode())
