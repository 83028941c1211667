"""Events as iCalendar (RFC 5545) entries, built with the `icalendar` library.

Times are written in the event's own timezone with its `VTIMEZONE` (UTC for a name this
process does not know). An event lasts `DURATION` (the contract has no end time; two
hours is also when the status sweep finishes an event by default). `SEQUENCE` is the
read model's count of changes to the event's fields and status, `DTSTAMP` and
`LAST-MODIFIED` its last change, so the same state renders to the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, Timezone

from shared.domain.event import CANCELLED

DURATION = timedelta(hours=2)
MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//Event Board//Afisha//RU"
# The columns an entry is built from.
ENTRY_COLUMNS = (
    "id",
    "title",
    "description",
    "location",
    "start_time",
    "timezone",
    "status",
    "tags",
    "calendar_sequence",
    "created_at",
    "updated_at",
)


def uid(event_id: object) -> str:
    """Stable for the event's whole life, so calendar apps update the entry they hold."""
    return f"{event_id}@eventboard"


def calendar_of(rows: Iterable[Mapping[Any, Any]], base_url: str, name: str | None = None) -> bytes:
    """A `VCALENDAR` with one `VEVENT` per row and the `VTIMEZONE`s they use."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name is not None:
        calendar.add("x-wr-calname", name)
    years: dict[str, tuple[int, int]] = {}
    for row in rows:
        start = _local(row["start_time"], row["timezone"])
        zone = start.tzinfo
        end = _end(start)
        calendar.add_component(_entry(row, start, end, base_url))
        if isinstance(zone, ZoneInfo):
            low, high = years.get(zone.key, (start.year, start.year))
            years[zone.key] = (min(low, start.year), max(high, (end or start).year))
    for key, (low, high) in sorted(years.items()):
        calendar.add_component(_vtimezone(key, low, high))
    body: bytes = calendar.to_ical()
    return body


def _end(start: datetime) -> datetime | None:
    try:
        return start + DURATION
    except OverflowError:
        # The calendar's last hours: the entry ends where it starts.
        return None


def _entry(row: Mapping[str, Any], start: datetime, end: datetime | None, base_url: str) -> Event:
    entry = Event()
    entry.add("uid", uid(row["id"]))
    entry.add("dtstamp", row["updated_at"])
    entry.add("created", row["created_at"])
    entry.add("last-modified", row["updated_at"])
    entry.add("sequence", row["calendar_sequence"])
    entry.add("dtstart", start)
    if end is not None:
        entry.add("dtend", end)
    entry.add("summary", row["title"])
    entry.add("description", row["description"])
    entry.add("location", row["location"])
    entry.add("url", f"{base_url}api/events/{row['id']}/")
    entry.add("status", "CANCELLED" if row["status"] == CANCELLED else "CONFIRMED")
    if row["tags"]:
        entry.add("categories", list(row["tags"]))
    return entry


def _local(start_time: datetime, zone_name: str) -> datetime:
    """The start in the event's timezone; in UTC for an unknown zone, or past the calendar's
    end (the last hours of year 9999 have no local time east of Greenwich)."""
    try:
        return start_time.astimezone(ZoneInfo(zone_name))
    except (ZoneInfoNotFoundError, ValueError, OverflowError):
        return start_time.astimezone(UTC)


@lru_cache(maxsize=256)
def _vtimezone(key: str, first_year: int, last_year: int) -> Timezone:
    # The zone's rules over the years its entries span, not the library's default 1970-2038.
    # Kept and shared between calendars: rendering never changes a component.
    return Timezone.from_tzid(
        key, first_date=date(first_year, 1, 1), last_date=date(min(last_year + 1, 9999), 1, 1)
    )
