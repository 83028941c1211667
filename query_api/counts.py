"""The `count` of a listing, reused for a moment.

Counting a broad filter (a common word in `search`, a wide date range) reads every
matching row, while the page itself reads ten; and the same filters come again and
again. A count is therefore kept per filter set for `listing_cache_seconds` and shared by
the requests that ask for it meanwhile, one query for all of them. It is never older
than a request's `X-Min-Position`: each count remembers the watermark the read model had
reached before it was taken, and a request asking for more counts again.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from query_api.watermarks import WatermarkWatcher
from shared.integration.names import EVENTS_PROJECTION

# Distinct filter sets kept; the least recently used go first.
MAX_KEPT = 1024


@dataclass(frozen=True)
class _Count:
    # The events watermark before counting: the count reflects at least this position.
    position: int
    taken_at: float
    value: asyncio.Task[int]


class CountCache:
    def __init__(self, seconds: float, watermarks: WatermarkWatcher) -> None:
        self._seconds = seconds
        self._watermarks = watermarks
        self._kept: OrderedDict[str, _Count] = OrderedDict()

    async def count(
        self, key: str, asked_position: int, counting: Callable[[], Awaitable[int]]
    ) -> int:
        """The count for `key`, taken by `counting` unless a recent enough one is kept.

        `counting` must use a connection of its own: its result may serve other requests,
        and it runs on (shielded) if the request that started it goes away.
        """
        if self._seconds <= 0:
            return await counting()
        kept = self._kept.get(key)
        if kept is None or not self._usable(kept, asked_position):
            kept = self._kept[key] = _Count(
                self._watermarks.position(EVENTS_PROJECTION),
                time.monotonic(),
                asyncio.ensure_future(counting()),
            )
            if len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        try:
            return await asyncio.shield(kept.value)
        except Exception:
            # A failed count is not kept: the next request tries again.
            if self._kept.get(key) is kept:
                del self._kept[key]
            raise

    def _usable(self, kept: _Count, asked_position: int) -> bool:
        fresh = time.monotonic() - kept.taken_at < self._seconds
        return fresh and kept.position >= asked_position and not kept.value.cancelled()
