"""How a notification looks over HTTP, on both APIs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Path
from pydantic import BaseModel

from shared.http.events import UtcDatetime
from shared.notifications import NotificationNotFound, NotificationType


class NotificationOut(BaseModel):
    id: UUID
    type: NotificationType
    type_display: str
    message: str
    event_id: UUID
    created_at: UtcDatetime
    read: bool


async def notification_id_in_path(
    notification_id: Annotated[str, Path(description="UUID уведомления")],
) -> UUID:
    """The notification id from the path; a malformed one names no notification."""
    try:
        return UUID(notification_id)
    except ValueError:
        raise NotificationNotFound from None


NotificationId = Annotated[UUID, Depends(notification_id_in_path)]
