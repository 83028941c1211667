"""Reading the users' access rows (see `shared.auth.access`), as the APIs do per request."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.access import Access
from shared.settings import EVENT_STORE_SCHEMA

_SELECT = text(
    f"SELECT is_staff, is_active, position FROM {EVENT_STORE_SCHEMA}.user_access"
    " WHERE user_id = :user_id"
)


class AccessStore:
    def __init__(self, engine: AsyncEngine) -> None:
        # One statement per check, so no transaction around it: without autocommit each check
        # was BEGIN, SELECT and ROLLBACK, and the connection sat idle in its transaction
        # whenever the event loop was busy elsewhere (14 sessions on average in the bookings
        # benchmark).
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def get(self, user_id: UUID) -> Access | None:
        """The user's rights, or None for an id the write side never stored."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_SELECT, {"user_id": user_id})).first()
        return None if row is None else Access(row.is_staff, row.is_active, row.position)
