"""The composition root of the read-model projector: a faust app feeding the `events` model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from projections.events_projector import EVENTS
from projections.live import LiveProjector
from projections.transport import SCHEME, TunedApp, register_transport
from shared.settings import EVENTS_STREAM, Settings

logger = logging.getLogger(__name__)


class ProjectorApp(TunedApp):
    """The faust app, holding the database engine it disposes of when it stops."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.engine = engine
        # faust creates its data folder but not the folders above it.
        Path(settings.data_dir, "faust").mkdir(parents=True, exist_ok=True)
        super().__init__(
            f"{settings.topic_prefix}-projector-{EVENTS.name}",
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            broker=[
                f"{SCHEME}://{server}" for server in settings.kafka_bootstrap_servers.split(",")
            ],
            broker_session_timeout=settings.kafka_session_timeout_ms / 1000,
            broker_rebalance_timeout=settings.kafka_rebalance_timeout_ms / 1000,
            broker_heartbeat_interval=settings.kafka_session_timeout_ms / 3000,
            consumer_auto_offset_reset="earliest",
            # Read models live in PostgreSQL: no tables, changelogs, leader topic or web server.
            topic_disable_leader=True,
            web_enabled=False,
            datadir=str(Path(settings.data_dir) / "faust" / settings.topic_prefix),
            autodiscover=False,
        )

    async def on_stop(self) -> None:
        await super().on_stop()
        await self.engine.dispose()


def create_app(settings: Settings) -> faust.App:
    """Build the projector: nothing connects until the worker starts it."""
    register_transport()
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=2, max_overflow=2)
    app = ProjectorApp(settings, engine)
    projector = LiveProjector(engine, EVENTS)
    topic = app.topic(settings.topic(EVENTS_STREAM), key_serializer="raw", value_serializer="raw")

    @app.agent(topic, concurrency=1, name=f"project-{EVENTS.name}")
    async def project(stream: faust.StreamT[bytes]) -> None:
        async for payloads in stream.take(
            settings.projection_batch_size, within=settings.projection_batch_seconds
        ):
            try:
                await projector.handle(payloads)
            except Exception:
                # faust would acknowledge the batch anyway; the watermark stops before it.
                logger.exception("%s: a batch could not be applied", EVENTS.name)

    @app.on_partitions_assigned.connect
    def announce(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # faust's own chatter is quieted; this is the line that says the projector is live.
        logger.info("%s: projecting, partitions assigned", EVENTS.name)

    async def advance_watermark() -> None:
        await projector.advance()

    app.timer(settings.watermark_poll_seconds, name=f"advance-{EVENTS.name}-watermark")(
        advance_watermark
    )
    return app
