"""Times as the admin shows them: in the event's own timezone, with the zone's name."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Moscow"


def local_time(moment: datetime | None, timezone: str = DEFAULT_TIMEZONE) -> str:
    if moment is None:
        return "—"
    return f"{moment.astimezone(ZoneInfo(timezone)):%d.%m.%Y %H:%M} ({timezone})"


def local_input(moment: datetime, timezone: str) -> str:
    """The value of a `datetime-local` input, in the event's timezone."""
    return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m-%dT%H:%M}"


def from_local_input(text: str, timezone: str) -> datetime:
    """A `datetime-local` value read in `timezone`; ValueError for anything else."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone))
