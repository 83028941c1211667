"""The waitlist through the Board application, on in-memory persistence: joining and
leaving in the contract's order of checks, promotion on every way a seat is freed, and the
line closing when the event starts, is cancelled or is deleted."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.application.board import Board
from shared.clock import ManualClock
from shared.domain.errors import (
    AlreadyBooked,
    AlreadyWaitlisted,
    EventNotBookable,
    EventNotFound,
    NotWaitlisted,
    SeatsAvailable,
)
from shared.domain.event import DIRECT, WAITLIST, Event
from shared.identity import Caller
from tests.unit.scenarios import schedule

ORGANIZER = Caller(uuid4(), "organizer")
STAFF = Caller(uuid4(), "staff", is_staff=True)
ALICE, BOB, CAROL, DAN = (Caller(uuid4(), name) for name in ("alice", "bob", "carol", "dan"))


def full_event(board: Board, seats: int = 1) -> UUID:
    """An event whose seats are all booked by others than the callers above."""
    event_id: UUID = schedule(board, ORGANIZER, seats=seats).aggregate.id
    for n in range(seats):
        board.book_seat(event_id, caller=Caller(uuid4(), f"early-{n}"))
    return event_id


def test_joining_answers_the_place_in_line_counted_from_one(board: Board) -> None:
    event_id = full_event(board)

    first = board.join_waitlist(event_id, caller=ALICE).aggregate
    second = board.join_waitlist(event_id, caller=BOB).aggregate

    assert (first.position, second.position) == (1, 2)
    view = board.get_event(event_id).view(BOB.id)
    assert (view.waitlist_length, view.my_waitlist_position) == (2, 2)


def test_the_checks_of_joining_come_in_the_order_of_the_contract(
    board: Board, clock: ManualClock
) -> None:
    event_id = schedule(board, ORGANIZER, seats=2).aggregate.id
    board.book_seat(event_id, caller=ALICE)

    with pytest.raises(EventNotFound):
        board.join_waitlist(uuid4(), caller=BOB)
    # Booked, with a seat free: the free seat is told first.
    with pytest.raises(SeatsAvailable):
        board.join_waitlist(event_id, caller=ALICE)
    board.book_seat(event_id, caller=BOB)
    with pytest.raises(AlreadyBooked):
        board.join_waitlist(event_id, caller=ALICE)
    board.join_waitlist(event_id, caller=CAROL)
    with pytest.raises(AlreadyWaitlisted):
        board.join_waitlist(event_id, caller=CAROL)
    clock.advance(4 * 3600)
    with pytest.raises(EventNotBookable):
        board.join_waitlist(event_id, caller=CAROL)


def board_user(board: Board, event_id: UUID, n: int) -> Caller:
    """The n-th early booker of `full_event`, as a caller."""
    user_id = list(board.get_event(event_id).bookings)[n]
    return Caller(UUID(user_id), f"early-{n}")


def test_a_cancelled_event_is_not_joined_whatever_its_free_seats(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=3).aggregate.id
    board.update_event(event_id, caller=ORGANIZER, changes={}, status="cancelled")

    with pytest.raises(EventNotBookable):
        board.join_waitlist(event_id, caller=ALICE)


def test_leaving_needs_a_place_in_line(board: Board) -> None:
    event_id = full_event(board)
    board.join_waitlist(event_id, caller=ALICE)
    board.join_waitlist(event_id, caller=BOB)

    with pytest.raises(EventNotFound):
        board.leave_waitlist(uuid4(), caller=ALICE)
    with pytest.raises(NotWaitlisted):
        board.leave_waitlist(event_id, caller=CAROL)
    board.leave_waitlist(event_id, caller=ALICE)

    assert board.get_event(event_id).view(BOB.id).my_waitlist_position == 1
    with pytest.raises(NotWaitlisted):
        board.leave_waitlist(event_id, caller=ALICE)


def test_a_cancelled_booking_goes_to_the_first_in_line_in_the_same_save(board: Board) -> None:
    event_id = full_event(board)
    early = board_user(board, event_id, 0)
    board.join_waitlist(event_id, caller=ALICE)
    board.join_waitlist(event_id, caller=BOB)

    cancelled = board.cancel_booking(event_id, caller=early)

    event = board.get_event(event_id)
    assert str(ALICE.id) in event.bookings
    assert str(early.id) not in event.bookings
    assert list(event.waitlist) == [str(BOB.id)]
    [*_, cancellation, promotion] = board.repository.event_store.get(event_id)
    assert isinstance(cancellation, Event.BookingCancelled)
    assert isinstance(promotion, Event.SeatBooked)
    assert (promotion.user_id, promotion.username, promotion.source) == (
        ALICE.id,
        "alice",
        WAITLIST,
    )
    assert cancelled.aggregate == UUID(
        str(cancellation.booking_id)  # type: ignore[attr-defined]
    )


def test_raised_seats_go_to_as_many_in_line_in_order(board: Board) -> None:
    event_id = full_event(board)
    for caller in (ALICE, BOB, CAROL):
        board.join_waitlist(event_id, caller=caller)

    board.update_event(event_id, caller=STAFF, changes={"seats": 3})

    event = board.get_event(event_id)
    assert {str(ALICE.id), str(BOB.id)} <= set(event.bookings)
    assert (event.free_seats, list(event.waitlist)) == (0, [str(CAROL.id)])


def test_a_direct_booking_says_so(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=1).aggregate.id

    board.book_seat(event_id, caller=ALICE)

    [*_, booked] = board.repository.event_store.get(event_id)
    assert isinstance(booked, Event.SeatBooked)
    assert booked.source == DIRECT


@pytest.mark.parametrize("ending", ["cancel", "delete", "start", "finish"])
def test_the_line_closes_with_everyone_in_it_when_the_event_ends_for_them(
    board: Board, clock: ManualClock, ending: str
) -> None:
    event_id = full_event(board)
    board.join_waitlist(event_id, caller=ALICE)
    board.join_waitlist(event_id, caller=BOB)

    if ending == "cancel":
        board.update_event(event_id, caller=ORGANIZER, changes={}, status="cancelled")
    elif ending == "delete":
        board.delete_event(event_id, caller=ORGANIZER)
    else:
        clock.advance(4 * 3600)
        if ending == "start":
            assert board.close_waitlist(event_id).aggregate == 2
        else:
            board.finish_event(event_id)

    stored = board.repository.event_store.get(event_id)
    closed = [e for e in stored if isinstance(e, Event.WaitlistClosed)]
    assert [c.user_ids for c in closed] == [[ALICE.id, BOB.id]]
    assert board.repository.get(event_id).waitlist == {}


def test_the_line_of_an_event_not_started_yet_stays_open_when_the_sweep_asks(
    board: Board,
) -> None:
    event_id = full_event(board)
    board.join_waitlist(event_id, caller=ALICE)

    assert board.close_waitlist(event_id).aggregate == 0
    assert list(board.get_event(event_id).waitlist) == [str(ALICE.id)]


def test_no_seat_is_given_away_once_the_event_has_started(board: Board, clock: ManualClock) -> None:
    event_id = full_event(board)
    board.join_waitlist(event_id, caller=ALICE)
    clock.advance(4 * 3600)

    board.update_event(event_id, caller=STAFF, changes={"seats": 5})

    event = board.get_event(event_id)
    assert str(ALICE.id) not in event.bookings
    assert list(event.waitlist) == [str(ALICE.id)]


def test_a_snapshot_taken_before_the_waitlist_loads_with_an_empty_line() -> None:
    state: dict[str, Any] = {"bookings": {}}

    Event.upcast_v1_v2(state)

    assert state["waitlist"] == {}
