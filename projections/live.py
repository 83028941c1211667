"""Applying consumed batches to the live read model: one transaction per batch with the
projection's progress and watermark, one per message to isolate a message that fails
(parking it), and retrying while the database is away."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.folding import Parked, Projection
from projections.store import Statement, apply_batch, park, park_unreadable, run_pipelined
from shared.integration.envelope import Envelope
from shared.read_model.watermarks import Progress, advance_watermark, watermark_advance

logger = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 5.0


class BatchApply(Protocol):
    """How a batch is applied in the caller's transaction: `apply_batch`, or a projection's
    own; `also` (statements needing no answer) goes with the batch's writes."""

    def __call__(
        self,
        conn: AsyncConnection,
        projection: Projection,
        envelopes: list[Envelope],
        /,
        *,
        also: Sequence[Statement] = (),
    ) -> Awaitable[object]: ...


class Consumed(NamedTuple):
    """A message as consumed: where it came from, its value, and the position its header
    gives (None when it has none)."""

    stream: str
    partition: int
    payload: bytes
    position: int | None


class Decoded(NamedTuple):
    consumed: Consumed
    envelope: Envelope


def is_transient(error: BaseException) -> bool:
    """Errors of the surroundings (connection, lock, deadlock), not of the message: retry them."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError | OSError
    )


def progress_of(decoded: Sequence[Decoded], unreadable: Sequence[Consumed] = ()) -> Progress:
    """The highest position of each partition among these messages."""
    progress: dict[tuple[str, int], int] = {}
    positions = [(d.consumed, d.envelope.position) for d in decoded]
    positions += [(c, c.position) for c in unreadable if c.position is not None]
    for consumed, position in positions:
        key = (consumed.stream, consumed.partition)
        progress[key] = max(progress.get(key, 0), position)
    return progress


class LiveProjector:
    """Feeds one projection from consumed messages and keeps its watermark moving."""

    def __init__(
        self, engine: AsyncEngine, projection: Projection, apply: BatchApply = apply_batch
    ) -> None:
        self.engine = engine
        self.projection = projection
        self._apply_batch = apply
        # When the last batch began to fill: its watermark takes in every relay head told
        # before, so a head told earlier needs no move of its own.
        self.last_batch_at = 0.0

    def batch_begins(self) -> None:
        """Note that a batch began to fill (its feed calls this with its first message)."""
        self.last_batch_at = time.monotonic()

    async def handle(self, batch: Sequence[Consumed]) -> frozenset[str]:
        """Apply a consumed batch; returns once every message is applied or parked, with
        the progress and the watermark they make, in one transaction, with the types of
        the messages it could read."""
        decoded: list[Decoded] = []
        unreadable: list[tuple[Consumed, str]] = []
        for consumed in batch:
            try:
                decoded.append(Decoded(consumed, Envelope.decode(consumed.payload)))
            except ValueError as error:
                unreadable.append((consumed, f"{type(error).__name__}: {error}"))
        if unreadable:
            await self._retrying(lambda: self._set_aside(unreadable))
        if decoded:
            await self._retrying(lambda: self._apply(decoded))
        return frozenset(d.envelope.type for d in decoded)

    async def advance(self) -> int | None:
        """Move the watermark; a failure is logged and left to the next call."""
        try:
            async with self.engine.begin() as conn:
                return await advance_watermark(conn, self.projection.name, self.projection.streams)
        except Exception:
            logger.exception("could not advance the %s watermark", self.projection.name)
            return None

    async def _apply(self, decoded: list[Decoded]) -> None:
        self.batch_begins()
        try:
            async with self.engine.begin() as conn:
                # The watermark needs no answer either: one round trip with the writes.
                await self._apply_batch(
                    conn,
                    self.projection,
                    [d.envelope for d in decoded],
                    also=[self._watermark(progress_of(decoded))],
                )
        except Exception as error:
            if is_transient(error):
                raise
            if len(decoded) > 1:
                logger.warning(
                    "%s: a batch of %d failed (%s); applying one message at a time",
                    self.projection.name,
                    len(decoded),
                    error,
                )
                for one in decoded:
                    await self._apply([one])
                return
            await self._park(decoded[0], error)

    async def _park(self, failed: Decoded, error: Exception) -> None:
        async with self.engine.begin() as conn:
            reason = f"{type(error).__name__}: {error}"
            await park(conn, self.projection.name, [Parked(failed.envelope, reason)])
            await self._done(conn, progress_of([failed]))

    async def _set_aside(self, unreadable: list[tuple[Consumed, str]]) -> None:
        """Park what can be placed (its header gives its position) and drop the rest: a
        message with neither a readable value nor a position can be neither applied nor
        parked, so the partition's next message carries the progress past it."""
        async with self.engine.begin() as conn:
            for consumed, error in unreadable:
                if consumed.position is None:
                    logger.error(
                        "%s: dropped a message with no position %r: %s",
                        self.projection.name,
                        consumed.payload[:200],
                        error,
                    )
                    continue
                await park_unreadable(
                    conn, self.projection.name, consumed.position, consumed.payload, error
                )
            await self._done(conn, progress_of([], [consumed for consumed, _ in unreadable]))

    async def _done(self, conn: AsyncConnection, progress: Progress) -> None:
        await run_pipelined(conn, [self._watermark(progress)])

    def _watermark(self, progress: Progress) -> Statement:
        statement, params = watermark_advance(
            self.projection.name, self.projection.streams, progress
        )
        return statement, [params]

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
