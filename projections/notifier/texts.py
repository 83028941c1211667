"""The Russian texts of notifications, with times in the event's own timezone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TIME_FORMAT = "%d.%m.%Y %H:%M"


@dataclass(frozen=True)
class EventFacts:
    """What a text tells about an event."""

    title: str
    location: str
    start_time: datetime
    timezone: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> EventFacts:
        return cls(row["title"], row["location"], row["start_time"], row["timezone"])

    @property
    def starts(self) -> str:
        return local_time(self.start_time, self.timezone)

    @property
    def place_and_time(self) -> str:
        return f"Место проведения — {self.location}, начало — {self.starts}."


def local_time(moment: datetime, timezone: str) -> str:
    """`01.12.2026 21:00` in `timezone`, or in UTC should the name be unknown here or the
    local time lie past the calendar's end (the last hours of 9999 east of Greenwich):
    a text that cannot be rendered would park the notification, and it would be lost."""
    try:
        return moment.astimezone(ZoneInfo(timezone)).strftime(TIME_FORMAT)
    except (ZoneInfoNotFoundError, ValueError, OverflowError):
        return moment.astimezone(UTC).strftime(TIME_FORMAT)


def booked(event: EventFacts) -> str:
    return f'Вы успешно забронировали место на событие "{event.title}". {event.place_and_time}'


def promoted(event: EventFacts) -> str:
    return (
        f'Освободилось место на событие "{event.title}", и оно ваше: бронь оформлена из '
        f"листа ожидания. {event.place_and_time}"
    )


def waitlist_closed(event: EventFacts) -> str:
    return (
        f'Лист ожидания на событие "{event.title}" закрыт: место так и не освободилось. '
        f"{event.place_and_time}"
    )


def booking_cancelled(event: EventFacts) -> str:
    return f'Вы отменили бронирование места на событие "{event.title}". {event.place_and_time}'


def reminder(event: EventFacts) -> str:
    return f'Напоминаем: скоро начнётся событие "{event.title}". {event.place_and_time}'


def event_cancelled(event: EventFacts) -> str:
    return (
        f'Событие "{event.title}" отменено. Место проведения — {event.location}, '
        f"начало было назначено на {event.starts}."
    )


def event_changed(event: EventFacts, previous: Mapping[str, Any]) -> str:
    """What changed, with the old place and time beside the new ones when they are known."""
    place = event.location
    if "location" in previous:
        place += f" (было: {previous['location']})"
    starts = event.starts
    if "start_time" in previous:
        was = local_time(
            datetime.fromisoformat(previous["start_time"]),
            previous.get("timezone", event.timezone),
        )
        starts += f" (было: {was})"
    return f'Событие "{event.title}" изменено. Место проведения — {place}, начало — {starts}.'
