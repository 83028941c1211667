"""Feeding a worker's projections from their topics, and keeping their watermarks true.

Each projection gets an agent that takes the messages of its streams in batches (up to
`projection_batch_size`, filling for at most `batch_seconds`) and applies each batch in one
transaction with the progress and watermark it makes (`LiveProjector`). `Feed` listens to
the relay (`RelayWatch`) and keeps the rest moving: a watermark also moves when the relay
publishes only other streams, and a projection that lacks messages the broker lost asks
for them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
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
    after_batch: Callable[[], object] | None = None,
    batch_seconds: float | None = None,
) -> None:
    """An agent feeding one projection from its streams (calling `after_batch` after each
    batch it applied). A batch fills for `batch_seconds` at most (default:
    `projection_batch_seconds`)."""
    name = projector.projection.name
    streams = {settings.topic(stream): stream for stream in projector.projection.streams}
    topic = app.topic(*streams, key_serializer="raw", value_serializer="raw")

    def consumed(event: faust.EventT[bytes]) -> Consumed:
        message = event.message
        return Consumed(
            streams[message.topic], message.partition, event.value, _position(message.headers)
        )

    @app.agent(topic, concurrency=1, name=f"project-{name}")
    async def project(stream: faust.StreamT[bytes]) -> None:
        if not isinstance(stream, Stream):
            raise TypeError(f"faust handed the agent a {type(stream).__name__}")
        async for events in stream.take_events(
            settings.projection_batch_size,
            within=batch_seconds or settings.projection_batch_seconds,
        ):
            try:
                await projector.handle([consumed(event) for event in events])
            except Exception:
                # faust would acknowledge the batch anyway; the watermark stops before it.
                logger.exception("%s: a batch could not be applied", name)
            else:
                if after_batch is not None:
                    after_batch()

    app.projectors.append(projector)


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
