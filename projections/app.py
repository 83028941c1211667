"""The composition root of the read-model projector: a faust app feeding every read model."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from projections.catalog import PROJECTIONS
from projections.live import LiveProjector
from projections.transport import SCHEME, TunedApp, register_transport
from shared.settings import Settings

logger = logging.getLogger(__name__)


class ProjectorApp(TunedApp):
    """The faust app, holding the database engine it disposes of when it stops, after the
    `cleanups` of what else it runs.

    `role` names its consumer group: workers of one role share the partitions, and each
    role (the read-model projector, the notifier) reads every message.
    """

    def __init__(self, settings: Settings, engine: AsyncEngine, role: str = "projector") -> None:
        self.engine = engine
        self.cleanups: list[Callable[[], Awaitable[object]]] = []
        # faust creates its data folder but not the folders above it.
        Path(settings.data_dir, "faust", settings.topic_prefix).mkdir(parents=True, exist_ok=True)
        super().__init__(
            f"{settings.topic_prefix}-{role}",
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
            datadir=str(Path(settings.data_dir) / "faust" / settings.topic_prefix / role),
            autodiscover=False,
        )

    async def on_stop(self) -> None:
        for cleanup in self.cleanups:
            await cleanup()
        await super().on_stop()
        await self.engine.dispose()


def create_app(settings: Settings) -> ProjectorApp:
    """Build the projector: nothing connects until the worker starts it."""
    register_transport()
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=2, max_overflow=2)
    app = ProjectorApp(settings, engine)
    for projection in PROJECTIONS:
        feed(app, settings, LiveProjector(engine, projection))
    announce_assignment(app, ", ".join(projection.name for projection in PROJECTIONS))
    return app


def announce_assignment(app: faust.App, names: str) -> None:
    @app.on_partitions_assigned.connect
    def announce(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # faust's own chatter is quieted; this is the line that says the worker is live.
        logger.info("%s: projecting, partitions assigned", names)


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
