"""Calendar entries as the `icalendar` library reads them back, and feed tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from icalendar import Calendar

from query_api.calendar_entries import calendar_of
from shared.auth.feed_tokens import FeedTokens


def row(**overrides: Any) -> dict[str, Any]:
    return {
        "id": uuid4(),
        "title": "Концерт",
        "description": "Джаз",
        "location": "Москва",
        "start_time": datetime(2030, 7, 1, 18, tzinfo=UTC),
        "timezone": "America/New_York",
        "status": "upcoming",
        "tags": ["джаз"],
        "calendar_sequence": 0,
        "created_at": datetime(2030, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2030, 1, 2, tzinfo=UTC),
        **overrides,
    }


def read(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def test_a_summer_event_is_written_in_its_zones_daylight_time_with_that_zones_rules() -> None:
    calendar = read(calendar_of([row()], "http://board/"))

    [entry] = calendar.events
    assert entry.decoded("dtstart").utcoffset() == timedelta(hours=-4)
    [zone] = calendar.timezones
    assert str(zone["tzid"]) == "America/New_York"
    assert {str(part.name) for part in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def test_an_unknown_zone_or_the_calendars_last_hours_are_written_in_utc() -> None:
    unknown = row(timezone="Nowhere/Atlantis")
    last = row(timezone="Asia/Tokyo", start_time=datetime(9999, 12, 31, 23, tzinfo=UTC))

    calendar = read(calendar_of([unknown, last], "http://board/"))

    starts = [entry.decoded("dtstart") for entry in calendar.events]
    assert [start.utcoffset() for start in starts] == [timedelta(0), timedelta(0)]
    assert calendar.timezones == []


def test_a_feed_lists_every_row_once_under_its_name() -> None:
    rows = [row(title=f"Событие {n}") for n in range(3)]

    calendar = read(calendar_of(rows, "http://board/", "Мои бронирования"))

    assert str(calendar["x-wr-calname"]) == "Мои бронирования"
    assert [str(entry["uid"]) for entry in calendar.events] == [
        f"{r['id']}@eventboard" for r in rows
    ]


def test_a_feed_token_verifies_only_for_its_user_generation_and_secret() -> None:
    tokens, user = FeedTokens.of("a" * 32), uuid4()
    claimed = tokens.claimed_user(tokens.token(user, 3))

    assert claimed is not None
    assert claimed[0] == user
    assert tokens.verifies(user, claimed[1], 3)
    assert not tokens.verifies(user, claimed[1], 4)
    assert not FeedTokens.of("b" * 32).verifies(user, claimed[1], 3)
    assert tokens.claimed_user("not a token!") is None
