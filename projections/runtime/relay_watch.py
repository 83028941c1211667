"""What a worker learns from the relay, and the slow rounds that keep it honest.

The relay tells, with each acknowledged batch, how far it published and where
(`PublishedNotice` on `PUBLISHED_CHANNEL`). A worker listens on one connection: it wakes
its consumer on the partitions that hold messages it has not read (they are paused while
there is nothing to read, so an idle worker asks the broker nothing), and moves the
watermarks reads wait for, which rise with the relay's head even when only streams their
projections do not read moved. Every `safety_round_seconds` it also wakes every partition and moves
the watermarks whatever it heard, and asks the relay again for the positions a projection
lacks although its consumer has read all the broker holds: a broker that lost messages
(the embedded one forgets everything when it stops) makes the read side heal on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import faust
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.live import LiveProjector
from projections.runtime.transport import Ends, consumer_thread
from shared.infra.listening import Listening, follow_channel
from shared.integration.names import PUBLISHED_CHANNEL
from shared.outbox.progress import REQUEST_RESEND, SENT_ENDS, PublishedNotice
from shared.read_model.watermarks import partitions_behind
from shared.settings import Settings

logger = logging.getLogger(__name__)

# A watermark moves on the relay's word alone this long after it, unless a batch of its
# projection began meanwhile (which moves it anyway): under load, that is almost always.
ADVANCE_AFTER_SECONDS = 0.02


class RelayWatch:
    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        engine: AsyncEngine,
        projectors: Sequence[LiveProjector],
    ) -> None:
        self._app = app
        self._settings = settings
        self._engine = engine
        self._projectors = projectors
        self._head_moved = asyncio.Event()
        self._told_at = 0.0
        # Partitions found lacking at the last round: asked for when they lack them again.
        self._lacking: set[tuple[str, int]] = set()

    async def listen(self) -> None:
        """Follow the relay until cancelled, reconnecting when the database goes away."""
        await follow_channel(
            self._settings.database_url,
            PUBLISHED_CHANNEL,
            self._told,
            what="relay watch",
            caught_up=self._catch_up,
        )

    async def advance_when_told(self) -> None:
        """Move the watermarks the relay's head moved past, unless a batch did it already."""
        while True:
            await self._head_moved.wait()
            self._head_moved.clear()
            told_at = self._told_at
            await asyncio.sleep(ADVANCE_AFTER_SECONDS)
            for projector in self._projectors:
                if projector.projection.awaited and projector.last_batch_at < told_at:
                    await projector.advance()

    async def safety_round(self) -> None:
        """Wake every partition, move every watermark, and ask again for what was lost."""
        thread = consumer_thread(self._app)
        if thread is None:
            return
        thread.wake()
        await self._advance_all()
        try:
            await self._ask_for_lost(await thread.call_thread(thread.read_to_end))
        except Exception:
            logger.exception("could not check for messages the broker lost")

    async def _catch_up(self, conn: Listening) -> None:
        """What was published while this worker was not listening."""
        cursor = await conn.execute(SENT_ENDS)
        self._wake({(self._topic(s), p): end for s, p, end in await cursor.fetchall()})

    def _told(self, payload: str) -> None:
        try:
            notice = PublishedNotice.decode(payload)
        except ValueError:
            logger.warning("ignoring a malformed relay notice %r", payload)
            return
        self._wake(
            {
                (self._topic(stream), partition): end
                for stream, ends in notice.ends.items()
                for partition, end in ends.items()
            }
        )

    def _wake(self, ends: Ends) -> None:
        thread = consumer_thread(self._app)
        if thread is not None:
            thread.wake(ends)
        self._told_at = time.monotonic()
        self._head_moved.set()

    def _topic(self, stream: str) -> str:
        return self._settings.topic(stream)

    async def _advance_all(self) -> None:
        for projector in self._projectors:
            await projector.advance()

    async def _ask_for_lost(self, read_to_end: set[tuple[str, int]]) -> None:
        lacking: dict[tuple[str, int], tuple[str, int]] = {}
        async with self._engine.connect() as conn:
            for projector in self._projectors:
                projection = projector.projection
                for stream, partition, applied in await partitions_behind(
                    conn, projection.name, projection.streams
                ):
                    if (self._topic(stream), partition) in read_to_end:
                        lacking[(stream, partition)] = (stream, applied)
        again = {key: asked for key, asked in lacking.items() if key in self._lacking}
        self._lacking = set(lacking) - set(again)
        if not again:
            return
        after_by_stream: dict[str, int] = {}
        for stream, applied in again.values():
            after_by_stream[stream] = min(applied, after_by_stream.get(stream, applied))
        async with self._engine.begin() as conn:
            for stream, after in after_by_stream.items():
                logger.warning(
                    "the broker holds nothing more of %s, which lacks positions after %d;"
                    " asking the relay to send them again",
                    stream,
                    after,
                )
                await conn.exec_driver_sql(REQUEST_RESEND, {"stream": stream, "after": after})
