"""Feeding a projection from its topics: batches in, the live projector applies them."""

from __future__ import annotations

import logging
from collections.abc import Callable

import faust

from projections.live import LiveProjector
from shared.settings import Settings

logger = logging.getLogger(__name__)


def feed(
    app: faust.App,
    settings: Settings,
    projector: LiveProjector,
    after_batch: Callable[[], object] | None = None,
    batch_seconds: float | None = None,
) -> None:
    """An agent feeding one projection from its streams (calling `after_batch` after each
    batch it applied), and a timer moving its watermark. A batch fills for `batch_seconds`
    at most (default: `projection_batch_seconds`)."""
    name = projector.projection.name
    topic = app.topic(
        *(settings.topic(stream) for stream in projector.projection.streams),
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(topic, concurrency=1, name=f"project-{name}")
    async def project(stream: faust.StreamT[bytes]) -> None:
        async for payloads in stream.take(
            settings.projection_batch_size,
            within=batch_seconds or settings.projection_batch_seconds,
        ):
            try:
                await projector.handle(payloads)
            except Exception:
                # faust would acknowledge the batch anyway; the watermark stops before it.
                logger.exception("%s: a batch could not be applied", name)
            else:
                if after_batch is not None:
                    after_batch()

    async def advance_watermark() -> None:
        await projector.advance()

    app.timer(settings.watermark_poll_seconds, name=f"advance-{name}-watermark")(advance_watermark)
