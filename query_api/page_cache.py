"""Anonymous pages of the public listings, answered from memory for a moment.

The board's front page and its city and tag pages are asked for over and over by people
who are not logged in, and the answer is the same for all of them. Such a page is kept
for `listing_cache_seconds` and sent again without routing, dependencies or queries;
while one request builds a page, the others asking for it wait for that one instead of
all querying at once when it expires. Like the count it is never older than a request's
`X-Min-Position` (the page remembers the watermark it reflects, and a request asking for
more builds it again), which is how a caller sees their own write. The pages carry nothing
of the caller's, so a signed-in request is answered from here too once its token is
checked (a signed-in app user always sends one); a bad or revoked token goes on to the app
for its 401.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from query_api.watermarks import WatermarkWatcher
from shared.http.auth import caller_of
from shared.integration.names import EVENTS_PROJECTION, MIN_POSITION_HEADER, header_position

# What the kept pages may hold in all (bytes); the least recently used go first. Bounded by
# size, not number: a hundred-item page weighs as much as a hundred small ones. A page
# weighs its body, its key and what keeping it costs besides: keys are the client's to
# choose (8 KB query strings of parameters the listing ignores, on an empty listing whose
# body is 50 bytes), so counting bodies alone let a flood of keys fill memory.
MAX_KEPT_BYTES = 16 * 1024 * 1024
PAGE_OVERHEAD_BYTES = 512
# Scheme, host, path and query string: what a page, links included, depends on.
_Key = tuple[str, str, str, bytes]


@dataclass
class _Page:
    position: int
    taken_at: float
    messages: list[Message] = field(default_factory=list)
    built: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def size(self) -> int:
        return sum(len(message.get("body", b"")) for message in self.messages)

    @property
    def complete(self) -> bool:
        """A whole 200 answer: one to keep and to send again."""
        return (
            bool(self.messages)
            and self.messages[0].get("status") == 200
            and self.messages[-1]["type"] == "http.response.body"
            and not self.messages[-1].get("more_body", False)
        )


class PageCache:
    def __init__(self, app: ASGIApp, *, paths: Collection[str], seconds: float) -> None:
        self._app = app
        self._paths = frozenset(paths)
        self._seconds = seconds
        self._kept: OrderedDict[_Key, _Page] = OrderedDict()
        self._kept_bytes = 0
        self._building: dict[_Key, _Page] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if self._cached_path(scope) else None
        # Anything but a position is the app's to refuse with a 400.
        asked = None if headers is None else header_position(headers.get(MIN_POSITION_HEADER, "0"))
        if headers is None or asked is None or not await _caller_may_share(scope, headers):
            await self._app(scope, receive, send)
            return
        # The page's links carry the host and scheme it was asked by.
        key: _Key = (scope["scheme"], headers.get("host", ""), scope["path"], scope["query_string"])
        kept = self._kept.get(key)
        if kept is not None and self._usable(kept, asked):
            self._kept.move_to_end(key)
            await self._send_again(kept, send)
            return
        building = self._building.get(key)
        if building is not None and building.position >= asked:
            await building.built.wait()
            if building.complete:
                await self._send_again(building, send)
                return
        await self._build(key, asked, scope, receive, send)

    async def _build(
        self, key: _Key, asked: int, scope: Scope, receive: Receive, send: Send
    ) -> None:
        watermarks: WatermarkWatcher = scope["app"].state.watermarks
        # The app waits for `asked` before it reads, so the page reflects at least both.
        page = _Page(max(watermarks.position(EVENTS_PROJECTION), asked), time.monotonic())
        self._building[key] = page

        async def keeping(message: Message) -> None:
            page.messages.append(message)
            await send(message)

        try:
            await self._app(scope, receive, keeping)
        finally:
            page.built.set()
            if self._building.get(key) is page:
                del self._building[key]
        if page.complete:
            self._keep(key, page)

    def _keep(self, key: _Key, page: _Page) -> None:
        replaced = self._kept.pop(key, None)
        if replaced is not None:
            self._kept_bytes -= _weight(key, replaced)
        self._kept[key] = page
        self._kept_bytes += _weight(key, page)
        while self._kept_bytes > MAX_KEPT_BYTES and len(self._kept) > 1:
            dropped_key, dropped = self._kept.popitem(last=False)
            self._kept_bytes -= _weight(dropped_key, dropped)

    @staticmethod
    async def _send_again(page: _Page, send: Send) -> None:
        for message in page.messages:
            await send(message)

    def _cached_path(self, scope: Scope) -> bool:
        """Whether this is a GET of a path whose pages are kept."""
        return (
            self._seconds > 0
            and scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] in self._paths
        )

    def _usable(self, page: _Page, asked: int) -> bool:
        return time.monotonic() - page.taken_at < self._seconds and page.position >= asked


async def _caller_may_share(scope: Scope, headers: Headers) -> bool:
    """Whether the request is anonymous or signed in with a token the app would accept.

    The header is read as the app's `bearer_token` reads it: a scheme other than Bearer is
    no token at all."""
    authorization = headers.get("authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer":
        return True
    state = scope["app"].state
    try:
        await caller_of(token, state.settings, state.access)
    except Exception:
        # Refused, or not known now (the database away): the app answers it its own way.
        return False
    return True


def _weight(key: _Key, page: _Page) -> int:
    return page.size + sum(len(part) for part in key) + PAGE_OVERHEAD_BYTES
