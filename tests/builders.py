"""Building the things tests are not about: an event's details unless a test says otherwise."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.domain.event import EventDetails


def event_details(start_time: datetime, **overrides: Any) -> EventDetails:
    """A concert in Moscow at `start_time`; a test changes what it is about."""
    values: dict[str, Any] = {
        "title": "Концерт",
        "description": "Живая музыка",
        "timezone": "Europe/Moscow",
        "location": "Москва",
        "seats": 10,
        "tags": [],
    }
    return EventDetails(start_time=start_time, **{**values, **overrides})
