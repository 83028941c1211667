"""What a notification is to everyone who handles one: its types with their labels, and its
de-duplication key, from which its id derives."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from shared.domain.errors import NotFound
from shared.integration.envelope import format_datetime

NotificationType = Literal[
    "booking",
    "cancel",
    "reminder",
    "event_cancelled",
    "event_changed",
    "waitlist_promoted",
    "waitlist_closed",
]
BOOKING: NotificationType = "booking"
CANCEL: NotificationType = "cancel"
REMINDER: NotificationType = "reminder"
EVENT_CANCELLED: NotificationType = "event_cancelled"
EVENT_CHANGED: NotificationType = "event_changed"
WAITLIST_PROMOTED: NotificationType = "waitlist_promoted"
WAITLIST_CLOSED: NotificationType = "waitlist_closed"

TYPE_DISPLAY: dict[NotificationType, str] = {
    BOOKING: "Забронировано",
    CANCEL: "Бронирование отменено",
    REMINDER: "Напоминание",
    EVENT_CANCELLED: "Мероприятие отменено",
    EVENT_CHANGED: "Мероприятие изменено",
    WAITLIST_PROMOTED: "Место из листа ожидания",
    WAITLIST_CLOSED: "Лист ожидания закрыт",
}

_NAMESPACE = UUID("6f1f8e54-3c55-4c1b-9a53-4f2b0c7d9e21")


def caused_key(cause_id: UUID, recipient_id: UUID, type_: NotificationType) -> str:
    """The key of a notification that a domain event caused."""
    return f"{cause_id}:{recipient_id}:{type_}"


def reminder_key(booking_id: UUID, start_time: datetime) -> str:
    """The key of a reminder: one per booking and start time."""
    return f"{booking_id}:{format_datetime(start_time)}:{REMINDER}"


def notification_id(key: str) -> UUID:
    """The id of the notification with this key: the same however often it is made."""
    return uuid5(_NAMESPACE, key)


class NotificationNotFound(NotFound):
    """Unknown, malformed, or someone else's: the same answer, so ids reveal nothing."""

    code = "notification_not_found"
    detail = "Уведомление не найдено."
