"""Rendered calendar feeds, kept per process while what they show is unchanged.

Calendar apps poll a feed every few minutes and mostly find it as it was; rendering fifty
entries costs tens of milliseconds of CPU, a query of the feed's version a fraction of
one. A kept feed is sent again as long as the version the read model gives for it is
the one it was rendered from.
"""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID

# What the kept feeds may hold in all; the least recently asked go first.
MAX_KEPT_BYTES = 16 * 1024 * 1024

# The user, the feed's generation and the base URL its links carry.
FeedKey = tuple[UUID, int, str]
FeedVersion = tuple[int, int]


class FeedCache:
    def __init__(self, max_bytes: int = MAX_KEPT_BYTES) -> None:
        self._max_bytes = max_bytes
        self._kept: OrderedDict[FeedKey, tuple[FeedVersion, bytes]] = OrderedDict()
        self._kept_bytes = 0

    def get(self, key: FeedKey, version: FeedVersion) -> bytes | None:
        kept = self._kept.get(key)
        if kept is None or kept[0] != version:
            return None
        self._kept.move_to_end(key)
        return kept[1]

    def keep(self, key: FeedKey, version: FeedVersion, body: bytes) -> None:
        self._forget(key)
        if len(body) > self._max_bytes:
            return
        self._kept[key] = (version, body)
        self._kept_bytes += len(body)
        while self._kept_bytes > self._max_bytes:
            self._forget(next(iter(self._kept)))

    def _forget(self, key: FeedKey) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._kept_bytes -= len(kept[1])
