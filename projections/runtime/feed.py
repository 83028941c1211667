"""Feeding a worker's projections from their topics, and keeping their watermarks true.

Each projection gets an agent that takes the messages of its streams in batches (up to
`projection_batch_size`, filling for at most `batch_seconds`) and applies each batch in one
transaction with the progress and watermark it makes (`LiveProjector`). `Feed` listens to
the relay (`RelayWatch`) and keeps the rest moving: a watermark also moves when the relay
publishes only other streams, and a projection that lacks messages the broker lost asks
for them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.streams import Stream

from projections.live import Consumed, LiveProjector
from projections.runtime.app import WorkerApp
from shared.integration.names import POSITION_KAFKA_HEADER
from shared.settings import Settings

logger = logging.getLogger(__name__)


def feed(
    app: WorkerApp,
    settings: Settings,
    projector: LiveProjector,
    after_batch: Callable[[frozenset[str]], object] | None = None,
    batch_seconds: float | None = None,
) -> None:
    """An agent feeding one projection from its streams (calling `after_batch` with the
    types of the messages of each batch it applied). A batch fills for `batch_seconds` at
    most (default: `projection_batch_seconds`)."""
    name = projector.projection.name
    streams = {settings.topic(stream): stream for stream in projector.projection.streams}
    topic = app.topic(*streams, key_serializer="raw", value_serializer="raw")

    def consumed(event: faust.EventT[bytes]) -> Consumed:
        message = event.message
        return Consumed(
            streams[message.topic], message.partition, event.value, _position(message.headers)
        )

    async def apply(events: list[faust.EventT[bytes]]) -> None:
        try:
            applied = await projector.handle([consumed(event) for event in events])
        except Exception:
            # The batch is acknowledged anyway; the watermark stops before it.
            logger.exception("%s: a batch could not be applied", name)
        else:
            if after_batch is not None:
                after_batch(applied)

    @app.agent(topic, concurrency=1, name=f"project-{name}")
    async def project(stream: faust.StreamT[bytes]) -> None:
        if not isinstance(stream, Stream):
            raise TypeError(f"faust handed the agent a {type(stream).__name__}")
        batches = Batches(
            stream,
            apply,
            settings.projection_batch_size,
            batch_seconds or settings.projection_batch_seconds,
            began=projector.batch_begins,
        )
        await batches.run()

    app.projectors.append(projector)


class Batches:
    """A stream taken in batches: up to `size` events, or what came within `seconds` of
    the first.

    faust's own `take_events` wakes every `seconds` whether anything came or not (an idle
    worker woke a hundred times a second per projection); here the stream is awaited until
    a first event comes, and only then does a batch have a deadline (and `began` is
    called). Events are acknowledged once their batch is applied.
    """

    def __init__(
        self,
        stream: Stream[bytes],
        apply: Callable[[list[faust.EventT[bytes]]], Awaitable[None]],
        size: int,
        seconds: float,
        began: Callable[[], object],
    ) -> None:
        self._stream = stream
        self._began = began
        self._apply = apply
        self._size = size
        self._seconds = seconds
        self._pending: list[faust.EventT[bytes]] = []
        self._applying = asyncio.Lock()
        self._deadline: asyncio.Task[None] | None = None

    async def run(self) -> None:
        # Acknowledged here, after each batch, not by the iteration as it moves on.
        self._stream.enable_acks = False
        try:
            async for event in self._stream.events():
                if not self._pending:
                    self._began()
                self._pending.append(event)
                if len(self._pending) >= self._size:
                    await self._flush()
                elif self._deadline is None:
                    self._deadline = asyncio.create_task(self._flush_later())
        finally:
            if self._deadline is not None:
                self._deadline.cancel()

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._seconds)
        await self._flush()

    async def _flush(self) -> None:
        async with self._applying:
            if self._deadline is not None and self._deadline is not asyncio.current_task():
                self._deadline.cancel()
            self._deadline = None
            events, self._pending = self._pending, []
            if not events:
                return
            await self._apply(events)
            for event in events:
                await self._stream.ack(event)


def _position(headers: Any) -> int | None:
    """The position a message's header gives (the relay always sets one)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for key, value in pairs:
        if key == POSITION_KAFKA_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None
