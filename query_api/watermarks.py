"""Waiting, cheaply, until a projection reflects every event up to a position.

One task per process listens for watermark notifications (payload
`<projection>:<position>`) and, while requests are waiting, also polls the
watermarks table as a safety net. Waiting requests only await an in-memory
signal: they never query the database themselves, and each is woken once, when the
watermark reaches its position.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging

import psycopg
from psycopg.rows import TupleRow

from shared.infra.listening import follow_channel
from shared.infra.tasks import cancelled
from shared.integration.names import WATERMARK_CHANNEL
from shared.read_model.watermarks import ALL_WATERMARKS_SQL, parse_watermark_notice

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05
# The poller keeps its connection this long after the last waiter: under steady traffic
# requests wait again and again, and a connection opened for each burst (a new server
# process each time) cost more CPU than all the polls it served.
LINGER_SECONDS = 5.0


class WatermarkWatcher:
    """Listens for watermark notifications on one connection, for good; while requests wait,
    a second task also polls the watermarks table on a connection of its own, as a safety
    net, and stops polling once nobody waits (closing that connection when nobody has
    waited for `LINGER_SECONDS`)."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._positions: dict[str, int] = {}
        # Per projection, a heap of (position awaited, arrival, the waiter's future).
        self._waiters: dict[str, list[tuple[int, int, asyncio.Future[None]]]] = {}
        self._arrivals = itertools.count()
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None

    def position(self, projection: str) -> int:
        """The highest watermark seen so far (watermarks only grow, so it is never too high)."""
        return self._positions.get(projection, 0)

    async def reached(self, projection: str, position: int) -> None:
        """Return once `projection` reflects every event up to `position`; callers bound it."""
        if self.position(projection) >= position:
            return
        self._waiting += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll_while_waiting(), name="watermark-poll")
        waiter = (position, next(self._arrivals), asyncio.get_running_loop().create_future())
        heap = self._waiters.setdefault(projection, [])
        heapq.heappush(heap, waiter)
        try:
            await waiter[2]
        finally:
            self._waiting -= 1
            if waiter[2].cancelled():
                # Timed out: a watermark that stopped moving must not keep every waiter
                # (unless a move took it out of the heap meanwhile).
                with contextlib.suppress(ValueError):
                    heap.remove(waiter)
                    heapq.heapify(heap)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watermark-watcher")

    async def stop(self) -> None:
        for task in (self._task, self._poller):
            await cancelled(task)
        self._task = self._poller = None

    async def _run(self) -> None:
        await follow_channel(
            self._database_url,
            WATERMARK_CHANNEL,
            self._advance_from_payload,
            what="watermark listener",
            caught_up=self._poll,
        )

    async def _poll_while_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with await psycopg.AsyncConnection.connect(
                self._database_url, autocommit=True
            ) as conn:
                idle_since = loop.time()
                while loop.time() - idle_since < LINGER_SECONDS:
                    if self._waiting:
                        await self._poll(conn)
                        idle_since = loop.time()
                    await asyncio.sleep(POLL_SECONDS)
        except (psycopg.Error, OSError) as error:
            # The waiting requests time out; the next one to wait polls again.
            logger.warning("watermark poll failed: %s", error)

    async def _poll(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        # Every projection's watermark in one round trip.
        cursor = await conn.execute(ALL_WATERMARKS_SQL)
        for projection, position in await cursor.fetchall():
            self._advance(projection, position)

    def _advance_from_payload(self, payload: str) -> None:
        try:
            self._advance(*parse_watermark_notice(payload))
        except ValueError:
            logger.warning("ignoring a malformed watermark notification %r", payload)

    def _advance(self, projection: str, position: int) -> None:
        if position > self.position(projection):
            self._positions[projection] = position
            heap = self._waiters.get(projection, [])
            while heap and heap[0][0] <= position:
                _, _, reached = heapq.heappop(heap)
                if not reached.done():
                    reached.set_result(None)
