"""Applying consumed batches to the live read model: one transaction per batch when it can,
one per message to isolate the message that fails, parking it; retrying while the database
is away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.folding import Parked, Projection
from projections.store import apply_batch, park
from shared.integration.envelope import Envelope
from shared.read_model.watermarks import advance_watermark

logger = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 5.0
# How a batch is applied in the caller's transaction: `apply_batch`, or a projection's own.
BatchApply = Callable[[AsyncConnection, Projection, list[Envelope]], Awaitable[object]]


def is_transient(error: BaseException) -> bool:
    """Errors of the surroundings (connection, lock, deadlock), not of the message: retry them."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError | OSError
    )


class LiveProjector:
    """Feeds one projection from consumed message payloads and keeps its watermark moving."""

    def __init__(
        self, engine: AsyncEngine, projection: Projection, apply: BatchApply = apply_batch
    ) -> None:
        self.engine = engine
        self.projection = projection
        self._apply_batch = apply

    async def handle(self, payloads: Sequence[bytes]) -> None:
        """Apply a consumed batch; returns once every message is applied or parked."""
        envelopes = [e for e in map(self._decode, payloads) if e is not None]
        if envelopes:
            await self._retrying(lambda: self._apply(envelopes))
            await self.advance()

    async def advance(self) -> int | None:
        """Move the watermark; a failure is logged and left to the next call."""
        try:
            async with self.engine.begin() as conn:
                return await advance_watermark(conn, self.projection.name, self.projection.streams)
        except Exception:
            logger.exception("could not advance the %s watermark", self.projection.name)
            return None

    def _decode(self, payload: bytes) -> Envelope | None:
        try:
            return Envelope.decode(payload)
        except (ValueError, KeyError, TypeError):
            # Without a position or an aggregate it can be neither applied nor parked; the
            # watermark stops before it, so the lag shows.
            logger.exception("%s: dropped an undecodable message %r", self.projection.name, payload)
            return None

    async def _apply(self, envelopes: list[Envelope]) -> None:
        try:
            async with self.engine.begin() as conn:
                await self._apply_batch(conn, self.projection, envelopes)
        except Exception as error:
            if is_transient(error):
                raise
            if len(envelopes) > 1:
                logger.warning(
                    "%s: a batch of %d failed (%s); applying one message at a time",
                    self.projection.name,
                    len(envelopes),
                    error,
                )
                for envelope in envelopes:
                    await self._apply([envelope])
                return
            await self._park(envelopes[0], error)

    async def _park(self, envelope: Envelope, error: Exception) -> None:
        async with self.engine.begin() as conn:
            await park(
                conn, self.projection.name, [Parked(envelope, f"{type(error).__name__}: {error}")]
            )

    async def _retrying(self, attempt: Callable[[], Awaitable[None]]) -> None:
        # faust acknowledges whatever happens, so giving up would lose the batch: wait instead.
        delay = 0.1
        while True:
            try:
                await attempt()
                return
            except Exception as error:
                if not is_transient(error):
                    raise
                logger.warning(
                    "%s: database unavailable (%s); retrying", self.projection.name, error
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
