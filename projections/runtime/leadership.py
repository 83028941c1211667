"""One leader per duty across processes: a PostgreSQL advisory lock held by a session.

The lock lives as long as the connection that took it, so a leader that dies or loses
the database frees it at once, and a standby takes it at its next try.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

# Advisory lock keys of the notifier's duties ("evboard" and a number, as the relay's).
REMINDERS_LOCK_KEY = 0x65_76_62_6F_61_72_64_02
STATUS_SWEEP_LOCK_KEY = 0x65_76_62_6F_61_72_64_03


class Leadership:
    """Takes the lock `key` when it is free and keeps it, with the connection that holds it."""

    def __init__(self, engine: AsyncEngine, key: int, duty: str) -> None:
        self._engine = engine
        self._key = key
        self._duty = duty
        self._conn: AsyncConnection | None = None
        self._leading = False

    async def connection(self) -> AsyncConnection | None:
        """The connection holding the lock, once this process leads; None while another does.

        Work done on it runs under the lock; after a database error call `step_down`.
        """
        if self._conn is None:
            self._conn = await self._engine.connect()
        if not self._leading:
            taken = await self._conn.scalar(select(func.pg_try_advisory_lock(self._key)))
            await self._conn.commit()
            self._leading = bool(taken)
            if self._leading:
                logger.info("leading the %s", self._duty)
        return self._conn if self._leading else None

    async def step_down(self) -> None:
        """Drop the connection, and with it the lock (when its session ends)."""
        conn, self._conn, self._leading = self._conn, None, False
        if conn is not None:
            try:
                await conn.invalidate()
            finally:
                await conn.close()
