"""Waiting for PostgreSQL notifications without waking up ten times a second.

psycopg's `AsyncConnection.notifies()` waits in slices of 0.1 s (so that a blocking
program notices Ctrl-C), and every listening connection woke its process ten times a
second to find nothing: measured, a fifth of an idle notifier's CPU. An asyncio program
is interrupted through its loop, so here the wait is one long slice; a notification, or a
connection that breaks, still ends it at once (the socket becomes readable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg.generators import notifies

WAIT_SLICE_SECONDS = 3600.0


async def notifications(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[psycopg.Notify]:
    """The notifications of the channels `conn` listens to, for as long as it lives."""
    # What came while the connection ran other commands (psycopg's backlog) comes first.
    async for notify in conn.notifies(timeout=0):
        yield notify
    encoding = conn.info.encoding
    async with conn.lock:
        while True:
            for received in await conn.wait(notifies(conn.pgconn), interval=WAIT_SLICE_SECONDS):
                yield psycopg.Notify(
                    received.relname.decode(encoding),
                    received.extra.decode(encoding),
                    received.be_pid,
                )
