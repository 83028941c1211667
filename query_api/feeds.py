"""Serving calendar feeds cheaply: calendar apps poll them every few minutes, mostly to
find them as they were.

Every request checks its token against the user's current generation (one primary-key
lookup on a small pool of plain connections: a rotated URL is refused from the moment
the rotation commits). The rendered feed is kept per (user, generation, base URL) with
the version of what it shows (see `calendar_queries.feed_version`); that version is
asked again at most every `listing_cache_seconds`, so a feed may be that old, like a
listing, and it is rendered again only when the version moved.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine

from query_api import calendar_queries as queries
from query_api.calendar_entries import calendar_of
from shared.auth.feed_tokens import FeedTokens
from shared.infra.database import POOL_TIMEOUT_SECONDS
from shared.read_model.schema import calendar_feeds
from shared.settings import READ_SCHEMA, Settings

FEED_NAME = "Афиша: мои бронирования"
# What the kept feeds may hold in all; the least recently asked go first.
MAX_KEPT_BYTES = 16 * 1024 * 1024
# A token check holds a connection for one short statement; a burst waits its turn.
POOL_SIZE = 4
_GENERATION = f"SELECT generation FROM {READ_SCHEMA}.{calendar_feeds.name} WHERE user_id = %s"

# The user, the feed's generation and the base URL its links carry.
_Key = tuple[UUID, int, str]


@dataclass
class _Feed:
    version: tuple[int, int]
    body: bytes
    checked_at: float


class Feeds:
    def __init__(
        self,
        tokens: FeedTokens,
        engine: AsyncEngine,
        pool: AsyncConnectionPool,
        seconds: float,
        max_bytes: int = MAX_KEPT_BYTES,
    ) -> None:
        self._tokens = tokens
        self._engine = engine
        self._pool = pool
        self._seconds = seconds
        self._max_bytes = max_bytes
        self._kept: OrderedDict[_Key, _Feed] = OrderedDict()
        self._kept_bytes = 0

    @classmethod
    @asynccontextmanager
    async def opened(
        cls, settings: Settings, tokens: FeedTokens, engine: AsyncEngine
    ) -> AsyncIterator[Feeds]:
        async with AsyncConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=POOL_TIMEOUT_SECONDS,
            kwargs={"autocommit": True},
            open=False,
        ) as pool:
            yield cls(tokens, engine, pool, settings.listing_cache_seconds)

    async def body(self, token: str, base_url: str) -> bytes | None:
        """The feed a token names, as iCalendar; None for a malformed, forged or rotated one."""
        claimed = self._tokens.claimed_user(token)
        if claimed is None:
            return None
        user_id, mac = claimed
        generation = await self.generation(user_id)
        if not self._tokens.verifies(user_id, mac, generation):
            return None
        key = (user_id, generation, base_url)
        kept = self._kept.get(key)
        now = time.monotonic()
        if kept is not None and now - kept.checked_at < self._seconds:
            self._kept.move_to_end(key)
            return kept.body
        async with self._engine.connect() as conn:
            version = await queries.feed_version(conn, user_id)
            if kept is not None and kept.version == version:
                kept.checked_at = now
                self._kept.move_to_end(key)
                return kept.body
            rows = await queries.feed_entries(conn, user_id)
        body = calendar_of(rows, base_url, FEED_NAME)
        self._keep(key, _Feed(version, body, now))
        return body

    async def generation(self, user_id: UUID) -> int:
        """The generation of the user's feed URL: only a token of this one is valid."""
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_GENERATION, (user_id,))).fetchone()
        return 0 if row is None else int(row[0])

    def _keep(self, key: _Key, feed: _Feed) -> None:
        self._forget(key)
        if len(feed.body) > self._max_bytes:
            return
        self._kept[key] = feed
        self._kept_bytes += len(feed.body)
        while self._kept_bytes > self._max_bytes:
            self._forget(next(iter(self._kept)))

    def _forget(self, key: _Key) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._kept_bytes -= len(kept.body)
