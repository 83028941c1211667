"""The Event aggregate's rules, on the library's in-memory persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from shared.domain.errors import EditWindowClosed, NotOrganizer, StartTimeInPast
from shared.domain.event import UPCOMING, Event

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ORGANIZER = uuid4()


def scheduled_event(**overrides: object) -> Event:
    fields: dict[str, object] = {
        "title": "Концерт",
        "description": "Описание",
        "start_time": NOW + timedelta(days=1),
        "timezone": "Europe/Moscow",
        "location": "Москва",
        "seats": 10,
        "tags": ["музыка"],
        "organizer_id": ORGANIZER,
        "organizer_username": "alice",
        "now": NOW,
    }
    fields.update(overrides)
    return Event.schedule(**fields)  # type: ignore[arg-type]


def edit(
    event: Event,
    changes: dict[str, object],
    *,
    by: UUID = ORGANIZER,
    staff: bool = False,
    at: datetime = NOW,
) -> None:
    event.update(changes=changes, by_user_id=by, by_staff=staff, now=at, edit_window_seconds=3600)


def test_a_scheduled_event_is_upcoming_with_no_bookings() -> None:
    event = scheduled_event()

    assert event.status == UPCOMING
    assert event.booked_count == 0
    assert event.scheduled_at == NOW
    assert [type(e) for e in event.collect_events()] == [Event.Scheduled]


def test_an_event_cannot_be_scheduled_in_the_past_or_at_this_very_moment() -> None:
    with pytest.raises(StartTimeInPast):
        scheduled_event(start_time=NOW)
    with pytest.raises(StartTimeInPast):
        scheduled_event(start_time=NOW - timedelta(seconds=1))


def test_the_organizer_may_change_fields_within_the_edit_window() -> None:
    event = scheduled_event()
    event.collect_events()

    edit(event, {"title": "Новый", "seats": 20}, at=NOW + timedelta(minutes=59))

    assert (event.title, event.seats) == ("Новый", 20)
    [updated] = event.collect_events()
    assert isinstance(updated, Event.Updated)
    assert updated.changes == {"title": "Новый", "seats": 20}


def test_an_edit_after_the_window_is_refused_but_staff_may_still_edit() -> None:
    event = scheduled_event()
    late = NOW + timedelta(minutes=61)

    with pytest.raises(EditWindowClosed):
        edit(event, {"title": "x"}, at=late)
    edit(event, {"title": "x"}, by=uuid4(), staff=True, at=late)
    assert event.title == "x"


def test_someone_else_may_not_edit_the_event() -> None:
    event = scheduled_event()

    with pytest.raises(NotOrganizer):
        edit(event, {"title": "x"}, by=uuid4())


def test_a_change_to_the_same_values_records_nothing() -> None:
    event = scheduled_event()
    event.collect_events()

    edit(event, {"title": "Концерт"})

    assert event.collect_events() == []
