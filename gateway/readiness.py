"""Is this process fit to take traffic: database and broker reachable, projections not lagging."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from shared.settings import EVENT_STORE_SCHEMA, READ_SCHEMA, Settings

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

# How long the oldest event not yet reflected by the projection has waited, and what it parked.
_PROJECTION_QUERY = f"""
SELECT
    (SELECT extract(epoch FROM now() - o.created_at)::float8
     FROM {EVENT_STORE_SCHEMA}.outbox o
     WHERE o.position > coalesce(
         (SELECT w.position FROM {READ_SCHEMA}.watermarks w WHERE w.projection = %(projection)s), 0)
     ORDER BY o.position LIMIT 1),
    (SELECT count(*) FROM {READ_SCHEMA}.parked_messages p WHERE p.projection = %(projection)s)
"""


@dataclass
class Readiness:
    checks: dict[str, Any] = field(default_factory=dict)
    ready: bool = True

    def fail(self, check: str, state: Any) -> None:
        self.checks[check] = state
        self.ready = False


async def check_readiness(settings: Settings, projections: Sequence[str]) -> Readiness:
    readiness = Readiness()
    await asyncio.gather(
        _check_database(settings, projections, readiness),
        _check_broker(settings.kafka_bootstrap_servers, readiness),
    )
    return readiness


async def _check_database(
    settings: Settings, projections: Sequence[str], readiness: Readiness
) -> None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            lags = await _projection_states(settings, projections)
    except (TimeoutError, psycopg.Error, OSError) as error:
        logger.warning("readiness: database check failed: %s", error)
        readiness.fail("database", "unreachable")
        return
    readiness.checks["database"] = "ok"
    readiness.checks["projections"] = lags
    for state in lags.values():
        if state["lag_seconds"] > settings.readiness_max_lag_seconds:
            state["status"] = "lagging"
            readiness.ready = False


async def _projection_states(
    settings: Settings, projections: Sequence[str]
) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = {}
    async with await psycopg.AsyncConnection.connect(
        settings.database_url, autocommit=True, connect_timeout=int(CHECK_TIMEOUT_SECONDS)
    ) as conn:
        for projection in projections:
            cursor = await conn.execute(_PROJECTION_QUERY, {"projection": projection})
            row = await cursor.fetchone()
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
