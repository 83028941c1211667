"""Bookings and ratings through the Board application, on in-memory persistence."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from shared.application.board import Board
from shared.clock import ManualClock
from shared.domain.errors import (
    AlreadyBooked,
    EventAlreadyStarted,
    EventNotBookable,
    EventNotFound,
    EventNotPast,
    InvalidField,
    NoFreeSeats,
    NotAParticipant,
    NotBooked,
)
from shared.identity import Caller
from tests.unit.scenarios import START, schedule

ORGANIZER = Caller(uuid4(), "organizer")
ALICE = Caller(uuid4(), "alice")
BOB = Caller(uuid4(), "bob")


def test_booking_answers_the_booking_and_its_position(board: Board, clock: ManualClock) -> None:
    event = schedule(board, ORGANIZER, seats=2)
    clock.advance(5)

    booked = board.book_seat(event.aggregate.id, caller=ALICE)

    assert booked.position == event.position + 1
    assert (booked.aggregate.event_id, booked.aggregate.booked_at) == (
        event.aggregate.id,
        START + timedelta(seconds=5),
    )
    [stored] = board.repository.event_store.get(event.aggregate.id, gt=1)
    assert stored.booking_id == booked.aggregate.booking_id  # type: ignore[attr-defined]
    assert stored.username == "alice"  # type: ignore[attr-defined]


def test_one_free_seat_takes_one_booking_and_none_takes_none(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=1).aggregate.id

    board.book_seat(event_id, caller=ALICE)

    with pytest.raises(NoFreeSeats):
        board.book_seat(event_id, caller=BOB)


def test_the_checks_of_a_booking_come_in_the_order_of_the_contract(
    board: Board, clock: ManualClock
) -> None:
    full = schedule(board, ORGANIZER, seats=1).aggregate.id
    board.book_seat(full, caller=ALICE)

    with pytest.raises(EventNotFound):
        board.book_seat(uuid4(), caller=ALICE)
    with pytest.raises(NoFreeSeats):
        board.book_seat(full, caller=ALICE)
    clock.advance(3 * 3600)
    with pytest.raises(EventNotBookable):
        board.book_seat(full, caller=ALICE)


def test_a_second_booking_of_one_user_is_refused_until_the_first_is_cancelled(
    board: Board,
) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    first = board.book_seat(event_id, caller=ALICE)

    with pytest.raises(AlreadyBooked):
        board.book_seat(event_id, caller=ALICE)
    cancelled = board.cancel_booking(event_id, caller=ALICE)
    again = board.book_seat(event_id, caller=ALICE)

    assert cancelled.aggregate == first.aggregate.booking_id
    assert again.aggregate.booking_id != first.aggregate.booking_id


def test_cancelling_a_booking_is_refused_without_one_or_once_the_event_started(
    board: Board, clock: ManualClock
) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    board.book_seat(event_id, caller=ALICE)

    with pytest.raises(NotBooked):
        board.cancel_booking(event_id, caller=BOB)
    clock.advance(3 * 3600)
    with pytest.raises(EventAlreadyStarted):
        board.cancel_booking(event_id, caller=ALICE)
    with pytest.raises(EventNotFound):
        board.cancel_booking(uuid4(), caller=ALICE)


def test_a_first_rating_is_new_and_a_second_replaces_it(board: Board, clock: ManualClock) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    board.book_seat(event_id, caller=ALICE)
    clock.advance(3 * 3600)

    first = board.rate_event(event_id, caller=ALICE, score=5)
    clock.advance(60)
    second = board.rate_event(event_id, caller=ALICE, score=2)

    assert (first.aggregate.first, first.aggregate.score) == (True, 5)
    assert (second.aggregate.first, second.aggregate.score) == (False, 2)
    assert second.aggregate.rated_at == START + timedelta(hours=3, seconds=60)
    assert second.position == first.position + 1


def test_ratings_need_a_past_event_and_a_participant(board: Board, clock: ManualClock) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    board.book_seat(event_id, caller=ALICE)

    with pytest.raises(EventNotPast):
        board.rate_event(event_id, caller=ALICE, score=5)
    clock.advance(3 * 3600)
    with pytest.raises(NotAParticipant):
        board.rate_event(event_id, caller=BOB, score=5)
    with pytest.raises(EventNotFound):
        board.rate_event(uuid4(), caller=ALICE, score=5)


@pytest.mark.parametrize("score", [0, 6, "abc"])
def test_a_bad_score_is_refused_before_anything_else(board: Board, score: object) -> None:
    with pytest.raises(InvalidField):
        board.rate_event(uuid4(), caller=ALICE, score=score)  # type: ignore[arg-type]


@pytest.mark.parametrize("score", [1, 5])
def test_the_bounds_of_the_score_are_accepted(board: Board, clock: ManualClock, score: int) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    board.book_seat(event_id, caller=ALICE)
    clock.advance(3 * 3600)

    assert board.rate_event(event_id, caller=ALICE, score=score).aggregate.score == score


def test_a_cancelled_event_cannot_be_rated(board: Board, clock: ManualClock) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    board.book_seat(event_id, caller=ALICE)
    board.update_event(event_id, caller=ORGANIZER, changes={}, status="cancelled")
    clock.advance(3 * 3600)

    with pytest.raises(EventNotPast):
        board.rate_event(event_id, caller=ALICE, score=4)


def test_the_events_detail_after_a_change_counts_bookings_and_ratings(
    board: Board, clock: ManualClock
) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    for guest in (ALICE, BOB, ORGANIZER):
        board.book_seat(event_id, caller=guest)
    clock.advance(3 * 3600)
    for guest, score in ((ALICE, 5), (BOB, 4), (ORGANIZER, 4)):
        board.rate_event(event_id, caller=guest, score=score)

    detail = board.update_event(event_id, caller=ORGANIZER, changes={}).aggregate

    assert (detail.booked_count, detail.rating_count, str(detail.avg_rating)) == (3, 3, "4.33")
    assert (detail.is_booked, detail.my_rating) == (True, 4)
