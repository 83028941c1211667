"""Is this process fit to take traffic: database and broker reachable, projections not lagging."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import EVENT_STORE_SCHEMA, READ_SCHEMA, Settings

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

# How long the oldest event not yet reflected by the projection has waited, and what it parked.
_PROJECTION_QUERY = text(f"""
SELECT
    (SELECT extract(epoch FROM now() - o.created_at)::float8
     FROM {EVENT_STORE_SCHEMA}.outbox o
     WHERE o.position > coalesce(
         (SELECT w.position FROM {READ_SCHEMA}.watermarks w WHERE w.projection = :projection), 0)
     ORDER BY o.position LIMIT 1),
    (SELECT count(*) FROM {READ_SCHEMA}.parked_messages p WHERE p.projection = :projection)
""")


@dataclass
class Readiness:
    checks: dict[str, Any] = field(default_factory=dict)
    ready: bool = True

    def fail(self, check: str, state: Any) -> None:
        self.checks[check] = state
        self.ready = False


class ReadinessProbe:
    """`/readyz`'s checks, run at most once per `CACHE_SECONDS` on the API's own pool.

    The endpoint is public: each call used to open a PostgreSQL connection of its own (a
    new server process) and a connection to the broker. Now a check borrows a pooled
    connection, callers that come while one runs wait for it, and its answer is reused for
    a second: a flood of probes costs one check a second.
    """

    CACHE_SECONDS = 1.0

    def __init__(
        self,
        settings: Settings,
        projections: Sequence[str],
        engine: Callable[[], AsyncEngine],
    ) -> None:
        self._settings = settings
        self._projections = tuple(projections)
        self._engine = engine
        self._last: tuple[float, asyncio.Task[Readiness]] | None = None

    async def check(self) -> Readiness:
        now = time.monotonic()
        if self._last is None or (
            self._last[1].done() and now - self._last[0] >= self.CACHE_SECONDS
        ):
            self._last = (now, asyncio.ensure_future(self._check()))
        # Shielded: a caller that gives up does not cancel the others' check.
        return await asyncio.shield(self._last[1])

    async def _check(self) -> Readiness:
        readiness = Readiness()
        await asyncio.gather(
            self._check_database(readiness),
            _check_broker(self._settings.kafka_bootstrap_servers, readiness),
        )
        return readiness

    async def _check_database(self, readiness: Readiness) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                lags = await self._projection_states()
        except (TimeoutError, psycopg.Error, sqlalchemy.exc.SQLAlchemyError, OSError) as error:
            logger.warning("readiness: database check failed: %s", error)
            readiness.fail("database", "unreachable")
            return
        readiness.checks["database"] = "ok"
        readiness.checks["projections"] = lags
        for state in lags.values():
            if state["lag_seconds"] > self._settings.readiness_max_lag_seconds:
                state["status"] = "lagging"
                readiness.ready = False

    async def _projection_states(self) -> dict[str, dict[str, Any]]:
        states: dict[str, dict[str, Any]] = {}
        async with self._engine().connect() as conn:
            for projection in self._projections:
                row = (await conn.execute(_PROJECTION_QUERY, {"projection": projection})).first()
                lag, parked = row if row is not None else (None, 0)
                states[projection] = {"status": "ok", "lag_seconds": lag or 0.0, "parked": parked}
        return states


async def _check_broker(bootstrap_servers: str, readiness: Readiness) -> None:
    for server in filter(None, (s.strip() for s in bootstrap_servers.split(","))):
        host, _, port = server.rpartition(":")
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS / 2):
                _reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except (TimeoutError, OSError, ValueError) as error:
            logger.debug("readiness: broker %s unreachable: %s", server, error)
            continue
        writer.close()
        readiness.checks["broker"] = "ok"
        return
    readiness.fail("broker", "unreachable")
