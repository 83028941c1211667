"""Creating notifications: each once (its key is unique), each with a pending delivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.notifications import NotificationType, notification_id
from shared.read_model.schema import notification_deliveries, notifications


@dataclass(frozen=True)
class NewNotification:
    key: str
    user_id: UUID
    type: NotificationType
    event_id: UUID
    message: str
    created_at: datetime

    @property
    def id(self) -> UUID:
        return notification_id(self.key)

    def values(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "user_id": self.user_id,
            "type": self.type,
            "event_id": self.event_id,
            "message": self.message,
            "created_at": self.created_at,
        }

    def delivery(self) -> dict[str, Any]:
        """Its pending delivery, due at once."""
        return {
            "notification_id": self.id,
            "due_at": self.created_at,
            "attempts": 0,
            "last_error": None,
        }


async def create_notifications(
    conn: AsyncConnection, batch: Sequence[NewNotification]
) -> list[UUID]:
    """Insert the notifications whose keys are new, with their deliveries; return their ids."""
    if not batch:
        return []
    created = set(
        await conn.scalars(
            insert(notifications).on_conflict_do_nothing().returning(notifications.c.id),
            [n.values() for n in batch],
        )
    )
    deliveries = [n.delivery() for n in batch if n.id in created]
    if deliveries:
        await conn.execute(insert(notification_deliveries).on_conflict_do_nothing(), deliveries)
    return [n.id for n in batch if n.id in created]
