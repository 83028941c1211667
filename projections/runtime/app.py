"""The faust app both workers run: one consumer group per role, no tables, no web server."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from projections.live import LiveProjector
from projections.runtime.relay_watch import RelayWatch
from projections.runtime.transport import SCHEME, TunedApp, register_transport
from shared.settings import Settings

logger = logging.getLogger(__name__)


class WorkerApp(TunedApp):
    """A faust app holding the database engine it disposes of when it stops, after the
    `cleanups` of what else it runs.

    `role` names its consumer group: workers of one role share the partitions, and each
    role (the read-model projector, the notifier) reads every message. `fetch_interval`:
    the least time between two resumes of its paused partitions (see `transport`).
    """

    def __init__(
        self, settings: Settings, engine: AsyncEngine, role: str, fetch_interval: float = 0.0
    ) -> None:
        register_transport()
        self.engine = engine
        self.cleanups: list[Callable[[], Awaitable[object]]] = []
        # The projections its agents feed (`feed` adds them), which the relay watch moves.
        self.projectors: list[LiveProjector] = []
        # faust creates its data folder but not the folders above it.
        Path(settings.data_dir, "faust", settings.topic_prefix).mkdir(parents=True, exist_ok=True)
        super().__init__(
            f"{settings.topic_prefix}-{role}",
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            fetch_interval=fetch_interval,
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
        watch = RelayWatch(self, settings, engine, self.projectors)
        self.task(watch.listen)
        self.task(watch.advance_when_told)
        self.timer(settings.safety_round_seconds, name="relay-watch-safety-round")(
            watch.safety_round
        )

    def announce_assignment(self, names: str) -> None:
        @self.on_partitions_assigned.connect
        def announce(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            # faust's own chatter is quieted; this is the line that says the worker is live.
            logger.info("%s: projecting, partitions assigned", names)

    async def on_stop(self) -> None:
        for cleanup in self.cleanups:
            await cleanup()
        await super().on_stop()
        await self.engine.dispose()
