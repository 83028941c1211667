"""Following a PostgreSQL notification channel for as long as a process runs.

The access store, the watermark watcher, the notification stream's hub and the workers'
relay watch each keep one `LISTEN` connection, catch up on what was sent while nobody
listened, and connect again when the database goes away: one loop serves them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

import psycopg
from psycopg.rows import TupleRow

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0

Listening = psycopg.AsyncConnection[TupleRow]


async def follow_channel(
    database_url: str,
    channel: str,
    on_notice: Callable[[str], object],
    *,
    what: str,
    caught_up: Callable[[Listening], Awaitable[object]] | None = None,
    lost: Callable[[], object] | None = None,
) -> NoReturn:
    """Hand each notice's payload on `channel` to `on_notice` until cancelled.

    After each connection's `LISTEN`, `caught_up` runs on that connection (whatever was
    sent while nobody listened is read then, and nothing sent meanwhile is missed). When
    the connection ends, `lost` runs (also on cancellation); a lost connection is logged
    as `what`'s and made again after `RECONNECT_SECONDS`."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                await conn.execute(f"LISTEN {channel}")
                if caught_up is not None:
                    await caught_up(conn)
                async for notify in conn.notifies():
                    on_notice(notify.payload)
        except (psycopg.Error, OSError) as error:
            logger.warning("%s lost its connection: %s", what, error)
        finally:
            if lost is not None:
                lost()
        await asyncio.sleep(RECONNECT_SECONDS)
