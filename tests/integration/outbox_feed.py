"""Feeding projections from the outbox in the test's own loop: the relay and the broker left out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from outbox_relay.producer import Sent
from outbox_relay.publisher import RECORD_PUBLISHED, sent_record
from projections.live import Consumed, LiveProjector
from projections.notifier.app import notifier_projectors
from projections.read_models.catalog import PROJECTIONS

# Every stream as one partition: the feed delivers the outbox in position order.
PARTITION = 0


class OutboxFeed:
    """The relay, the broker, the projector and the notifier in one loop: every read model
    and the notifications, fed from the outbox by their own code, so reads see writes as
    they would in production. It records what it "sent" as the relay does, so watermarks
    move as they would."""

    def __init__(
        self, engine: AsyncEngine, projectors: Sequence[LiveProjector] | None = None
    ) -> None:
        self.engine = engine
        self.projectors = projectors or [
            *(LiveProjector(engine, projection) for projection in PROJECTIONS),
            *notifier_projectors(engine),
        ]
        self.position = 0
        self._sent = 0
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Step until `stop()`; a step is never cut off, so a failure here is a real one."""
        while not self._stopping.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.02)

    def stop(self) -> None:
        self._stopping.set()

    async def step(self) -> None:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT position, stream, key, payload FROM event_store.outbox"
                        " WHERE position > :after ORDER BY position"
                    ),
                    {"after": self.position},
                )
            ).all()
        if rows:
            await self._record_sent([tuple(row) for row in rows])
        for projector in self.projectors:
            streams = projector.projection.streams
            await projector.handle(
                [
                    Consumed(row.stream, PARTITION, row.payload, row.position)
                    for row in rows
                    if row.stream in streams
                ]
            )
            await projector.advance()
        if rows:
            self.position = rows[-1].position

    async def _record_sent(self, rows: list[tuple[int, str, str, bytes]]) -> None:
        sent = [Sent(PARTITION, self._sent + n) for n in range(1, len(rows) + 1)]
        self._sent += len(rows)
        params, _ = sent_record(rows, sent, head=rows[-1][0])
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(RECORD_PUBLISHED, params)
