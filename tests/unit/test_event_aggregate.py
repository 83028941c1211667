"""The Event aggregate's rules, on the library's in-memory persistence."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.domain import errors
from shared.domain.event import CANCELLED, FINISHED, UPCOMING, Event
from tests.builders import event_details

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
ORGANIZER = uuid4()
ALICE, BOB = uuid4(), uuid4()
WINDOW = 3600


def scheduled_event(**overrides: Any) -> Event:
    details = event_details(**{"start_time": START, "tags": ["музыка"], **overrides})
    event = Event.schedule(details, organizer_id=ORGANIZER, organizer_username="organizer", now=NOW)
    event.collect_events()
    return event


def edit(
    event: Event,
    changes: dict[str, object],
    *,
    status: str | None = None,
    by: UUID = ORGANIZER,
    staff: bool = False,
    at: datetime = NOW,
) -> None:
    event.update(
        changes=changes,
        status=status,
        by_user_id=by,
        by_staff=staff,
        now=at,
        edit_window_seconds=WINDOW,
    )


def book(event: Event, user: UUID = ALICE, at: datetime = NOW) -> UUID:
    return event.book(user_id=user, username=f"user-{user.hex[:4]}", now=at)


def delete(event: Event, *, by: UUID = ORGANIZER, staff: bool = False, at: datetime = NOW) -> None:
    event.delete(by_user_id=by, by_staff=staff, now=at, edit_window_seconds=WINDOW)


def recorded(event: Event) -> list[type[object]]:
    return [type(e) for e in event.collect_events()]


def test_a_scheduled_event_is_upcoming_with_no_bookings() -> None:
    event = Event.schedule(
        event_details(START), organizer_id=ORGANIZER, organizer_username="organizer", now=NOW
    )

    assert event.status == UPCOMING
    assert (event.booked_count, event.free_seats) == (0, 10)
    assert event.scheduled_at == NOW
    assert recorded(event) == [Event.Scheduled]


def test_an_event_cannot_be_scheduled_in_the_past_or_at_this_very_moment() -> None:
    with pytest.raises(errors.StartTimeInPast):
        scheduled_event(start_time=NOW)
    with pytest.raises(errors.StartTimeInPast):
        scheduled_event(start_time=NOW - timedelta(seconds=1))


def test_the_organizer_may_change_fields_within_the_edit_window() -> None:
    event = scheduled_event()

    edit(event, {"title": "Новый", "seats": 20}, at=NOW + timedelta(minutes=59))

    assert (event.title, event.seats) == ("Новый", 20)
    [updated] = event.collect_events()
    assert isinstance(updated, Event.Updated)
    assert updated.changes == {"title": "Новый", "seats": 20}
    assert updated.previous == {"title": "Концерт", "seats": 10}


def test_the_edit_window_is_real_elapsed_time_closed_at_61_minutes() -> None:
    event = scheduled_event()

    with pytest.raises(errors.EditWindowClosed):
        edit(event, {"title": "x"}, at=NOW + timedelta(minutes=61))
    with pytest.raises(errors.EditWindowClosed):
        edit(event, {"title": "x"}, at=NOW + timedelta(days=1, minutes=1))
    assert event.title == "Концерт"


def test_staff_may_edit_after_the_window() -> None:
    event = scheduled_event()

    edit(event, {"title": "x"}, by=uuid4(), staff=True, at=NOW + timedelta(minutes=61))

    assert event.title == "x"


def test_someone_else_may_not_edit_the_event() -> None:
    event = scheduled_event()

    with pytest.raises(errors.NotOrganizer):
        edit(event, {"title": "x"}, by=uuid4())


def test_who_asks_is_checked_before_the_window() -> None:
    event = scheduled_event()

    with pytest.raises(errors.NotOrganizer):
        edit(event, {"title": "x"}, by=uuid4(), at=NOW + timedelta(hours=2))


def test_a_change_to_the_same_values_records_nothing() -> None:
    event = scheduled_event()

    edit(event, {"title": "Концерт"}, at=NOW + timedelta(hours=2))

    assert event.collect_events() == []


def test_a_new_start_time_must_be_in_the_future() -> None:
    event = scheduled_event()

    with pytest.raises(errors.StartTimeInPast):
        edit(event, {"start_time": NOW}, at=NOW)
    edit(event, {"start_time": NOW + timedelta(seconds=1)}, at=NOW)
    [updated] = event.collect_events()
    assert isinstance(updated, Event.Updated)
    assert updated.previous == {"start_time": START}


def test_seats_may_not_drop_below_the_booked_count() -> None:
    event = scheduled_event(seats=3)
    book(event, ALICE)
    book(event, BOB)

    with pytest.raises(errors.SeatsBelowBooked):
        edit(event, {"seats": 1})
    edit(event, {"seats": 2})

    assert (event.seats, event.free_seats) == (2, 0)


def test_a_refused_change_records_nothing_also_the_parts_that_were_fine() -> None:
    event = scheduled_event()

    with pytest.raises(errors.StartTimeInPast):
        edit(event, {"title": "Новый", "start_time": NOW - timedelta(days=1)})

    assert event.title == "Концерт"
    assert event.collect_events() == []


def test_the_organizer_may_cancel_an_upcoming_event_at_any_time_even_after_it_started() -> None:
    event = scheduled_event()

    edit(event, {}, status=CANCELLED, at=START + timedelta(minutes=5))

    assert event.status == CANCELLED
    assert event.changed_at == START + timedelta(minutes=5)
    assert recorded(event) == [Event.Cancelled]


def test_cancelling_with_field_changes_after_the_window_refuses_the_whole_request() -> None:
    event = scheduled_event()

    with pytest.raises(errors.EditWindowClosed):
        edit(event, {"title": "x"}, status=CANCELLED, at=NOW + timedelta(hours=2))

    assert event.status == UPCOMING
    assert event.collect_events() == []


def test_cancelling_with_field_changes_in_the_window_records_both() -> None:
    event = scheduled_event()

    edit(event, {"title": "Отмена"}, status=CANCELLED)

    assert recorded(event) == [Event.Updated, Event.Cancelled]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (CANCELLED, CANCELLED),
        (CANCELLED, UPCOMING),
        (None, FINISHED),
    ],
)
def test_other_status_transitions_are_refused(first: str | None, then: str) -> None:
    event = scheduled_event()
    if first is not None:
        edit(event, {}, status=first)
        event.collect_events()

    with pytest.raises(errors.InvalidStatusTransition):
        edit(event, {}, status=then)
    assert event.collect_events() == []


def test_upcoming_for_an_upcoming_event_changes_nothing() -> None:
    event = scheduled_event()

    edit(event, {}, status=UPCOMING)

    assert event.collect_events() == []


def test_a_stranger_may_not_cancel() -> None:
    event = scheduled_event()

    with pytest.raises(errors.NotOrganizer):
        edit(event, {}, status=CANCELLED, by=uuid4())


def test_cancelling_on_its_own_follows_the_same_rules() -> None:
    event = scheduled_event()

    with pytest.raises(errors.NotOrganizer):
        event.cancel(by_user_id=uuid4(), by_staff=False, now=NOW)
    event.cancel(by_user_id=uuid4(), by_staff=True, now=START + timedelta(hours=1))

    assert event.status == CANCELLED
    with pytest.raises(errors.InvalidStatusTransition):
        event.cancel(by_user_id=ORGANIZER, by_staff=False, now=START + timedelta(hours=1))


def test_fields_of_a_cancelled_event_cannot_change() -> None:
    event = scheduled_event()
    edit(event, {}, status=CANCELLED)

    with pytest.raises(errors.InvalidStatusTransition):
        edit(event, {"title": "x"})


def test_an_event_that_started_can_be_finished_once() -> None:
    event = scheduled_event()

    with pytest.raises(errors.InvalidStatusTransition):
        event.finish(START - timedelta(seconds=1))
    event.finish(START)

    assert event.status == FINISHED
    with pytest.raises(errors.InvalidStatusTransition):
        event.finish(START + timedelta(hours=3))


def test_a_cancelled_event_cannot_be_finished() -> None:
    event = scheduled_event()
    edit(event, {}, status=CANCELLED)

    with pytest.raises(errors.InvalidStatusTransition):
        event.finish(START + timedelta(hours=3))


def test_the_organizer_may_delete_within_the_window_only() -> None:
    late, in_time = scheduled_event(), scheduled_event()

    with pytest.raises(errors.DeleteWindowClosed):
        delete(late, at=NOW + timedelta(minutes=61))
    delete(in_time, at=NOW + timedelta(minutes=59))

    assert (late.deleted, in_time.deleted) == (False, True)
    assert recorded(in_time) == [Event.Deleted]


def test_staff_may_delete_after_the_window_and_strangers_never() -> None:
    event = scheduled_event()

    with pytest.raises(errors.NotOrganizer):
        delete(event, by=uuid4())
    delete(event, by=uuid4(), staff=True, at=NOW + timedelta(days=3))

    assert event.deleted


def test_the_last_free_seat_can_be_booked_and_then_no_more() -> None:
    event = scheduled_event(seats=2)
    book(event, ALICE)

    booking_id = book(event, BOB)

    assert event.free_seats == 0
    assert event.bookings[str(BOB)] == str(booking_id)
    with pytest.raises(errors.NoFreeSeats):
        book(event, uuid4())


def test_one_user_holds_one_active_booking() -> None:
    event = scheduled_event()
    book(event, ALICE)

    with pytest.raises(errors.AlreadyBooked):
        book(event, ALICE)
    assert event.booked_count == 1


def test_a_full_event_answers_no_free_seats_before_already_booked() -> None:
    event = scheduled_event(seats=1)
    book(event, ALICE)

    with pytest.raises(errors.NoFreeSeats):
        book(event, ALICE)


def test_an_event_that_started_or_was_cancelled_is_not_bookable() -> None:
    started, cancelled = scheduled_event(), scheduled_event()
    edit(cancelled, {}, status=CANCELLED)

    with pytest.raises(errors.EventNotBookable):
        book(started, at=START)
    with pytest.raises(errors.EventNotBookable):
        book(cancelled)
    book(started, at=START - timedelta(seconds=1))


def test_the_organizer_may_book_their_own_event() -> None:
    event = scheduled_event()

    book(event, ORGANIZER)

    assert event.booked_count == 1


def test_booking_again_after_cancelling_works_with_a_new_booking() -> None:
    event = scheduled_event()
    first = book(event, ALICE)

    cancelled = event.cancel_booking(user_id=ALICE, now=NOW)
    second = book(event, ALICE)

    assert cancelled == first != second
    assert event.booked_count == 1
    assert recorded(event) == [Event.SeatBooked, Event.BookingCancelled, Event.SeatBooked]


def test_cancelling_needs_an_active_booking_before_the_start() -> None:
    event = scheduled_event()

    with pytest.raises(errors.NotBooked):
        event.cancel_booking(user_id=ALICE, now=START)
    book(event, ALICE)
    with pytest.raises(errors.EventAlreadyStarted):
        event.cancel_booking(user_id=ALICE, now=START)


def test_a_participant_rates_a_started_event_and_rating_again_replaces_the_score() -> None:
    event = scheduled_event()
    book(event, ALICE)
    book(event, BOB)

    assert event.rate(user_id=ALICE, score=5, now=START) is None
    assert event.rate(user_id=BOB, score=1, now=START) is None
    assert event.rate(user_id=ALICE, score=4, now=START + timedelta(hours=1)) == 5

    view = event.view(ALICE)
    assert (view.rating_count, view.avg_rating, view.my_rating) == (2, Decimal("2.50"), 4)
    assert event.collect_events()[-1] == Event.Rated(
        originator_id=event.id,
        originator_version=event.version,
        timestamp=event.modified_on,
        user_id=ALICE,
        score=4,
        previous_score=5,
        occurred_at=START + timedelta(hours=1),
    )


def test_only_a_started_event_that_was_not_cancelled_can_be_rated() -> None:
    upcoming, cancelled = scheduled_event(), scheduled_event()
    for event in (upcoming, cancelled):
        book(event, ALICE)
    edit(cancelled, {}, status=CANCELLED)

    with pytest.raises(errors.EventNotPast):
        upcoming.rate(user_id=ALICE, score=5, now=START - timedelta(seconds=1))
    with pytest.raises(errors.EventNotPast):
        cancelled.rate(user_id=ALICE, score=5, now=START + timedelta(hours=1))


def test_only_participants_rate() -> None:
    event = scheduled_event()
    book(event, ALICE)
    event.cancel_booking(user_id=ALICE, now=NOW)

    with pytest.raises(errors.NotAParticipant):
        event.rate(user_id=ALICE, score=5, now=START)
    with pytest.raises(errors.NotAParticipant):
        event.rate(user_id=BOB, score=5, now=START)


@pytest.mark.parametrize("score", [0, 6, -1, "abc", "5", 4.0, True, None])
def test_a_score_is_an_integer_from_1_to_5(score: object) -> None:
    event = scheduled_event()
    book(event, ALICE)

    with pytest.raises(errors.InvalidField) as refused:
        event.rate(user_id=ALICE, score=score, now=START)  # type: ignore[arg-type]
    assert refused.value.field == "score"


@pytest.mark.parametrize("score", [1, 5])
def test_the_bounds_of_the_score_are_allowed(score: int) -> None:
    event = scheduled_event()
    book(event, ALICE)

    event.rate(user_id=ALICE, score=score, now=START)

    assert event.ratings == {str(ALICE): score}


REFUSALS: dict[str, Callable[[Event], object]] = {
    "book twice": lambda e: book(e, ALICE),
    "book when started": lambda e: book(e, BOB, at=START),
    "cancel someone else's booking": lambda e: e.cancel_booking(user_id=BOB, now=NOW),
    "rate before the start": lambda e: e.rate(user_id=ALICE, score=3, now=NOW),
    "delete late": lambda e: delete(e, at=NOW + timedelta(hours=2)),
    "finish early": lambda e: e.finish(NOW),
    "shrink below bookings": lambda e: edit(e, {"seats": 0}),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_command_leaves_the_event_as_it_was(refusal: str) -> None:
    event = scheduled_event()
    book(event, ALICE)
    event.collect_events()
    before = deepcopy(vars(event))

    with pytest.raises(errors.DomainError):
        REFUSALS[refusal](event)

    assert vars(event) == before
    assert event.collect_events() == []


def test_the_view_shows_the_viewers_booking_and_no_average_until_rated() -> None:
    event = scheduled_event(seats=5)
    book(event, ALICE)

    alice, bob, anonymous = event.view(ALICE), event.view(BOB), event.view()

    assert (alice.is_booked, bob.is_booked, anonymous.is_booked) == (True, False, False)
    assert (alice.booked_count, alice.avg_rating, alice.rating_count) == (1, None, 0)
    assert alice.tags == ("музыка",)


def test_a_started_event_keeps_its_start_so_its_ratings_stay_with_its_participants() -> None:
    # Moved ahead, it would reopen cancellations: a rater could leave and keep the rating.
    event = scheduled_event()
    book(event)
    event.rate(user_id=ALICE, score=5, now=START)
    event.collect_events()

    with pytest.raises(errors.StartedEventNotMovable):
        edit(event, {"start_time": START + timedelta(days=1)}, staff=True, at=START)

    assert event.start_time == START
    assert not event.collect_events()
