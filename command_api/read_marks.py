"""Read marks: the users' own state beside their notifications, owned by the command API.

A mark is not a domain event and no projection writes or rebuilds it: the command API
inserts it straight into `notification_reads`, the only read-side table it writes, so a
rebuild of the notifier never loses one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.read_model.schema import notification_reads
from shared.read_model.views.notifications import notification_of


async def mark_read(
    conn: AsyncConnection, user_id: UUID, notification_id: UUID, now: datetime
) -> dict[str, Any] | None:
    """Mark the user's notification read (again: no change); None if it is not theirs."""
    found = await notification_of(conn, user_id, notification_id)
    if found is None:
        return None
    await conn.execute(
        insert(notification_reads)
        .values(notification_id=notification_id, read_at=now)
        .on_conflict_do_nothing()
    )
    return {**found, "read": True}
