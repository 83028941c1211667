"""Keyed writes through the Board: the first answer again, never the work twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.application.board import Board
from shared.application.commits import Command, UnitOfWork
from shared.application.idempotency import Idempotency, Replayed
from shared.clock import ManualClock
from shared.domain.errors import IdempotencyInProgress, IdempotencyKeyReused, NoFreeSeats
from shared.identity import Caller
from shared.outbox.memory import MemoryRecorder
from tests.unit.scenarios import schedule

ORGANIZER = Caller(uuid4(), "organizer")
ALICE = Caller(uuid4(), "alice")


def key(caller: Caller, name: str = "k-1", fingerprint: str = "POST /book/") -> Idempotency:
    def render(result: Any) -> tuple[int, bytes]:
        return 201, f"answer to {type(result).__name__}".encode()

    return Idempotency(caller.id, name, fingerprint, render)


def bookings(board: Board, event_id: UUID) -> int:
    return board.get_event(event_id).booked_count


def test_the_same_key_answers_the_first_answer_without_doing_the_work_again(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    first = board.book_seat(event_id, caller=ALICE, idempotency=key(ALICE))

    with pytest.raises(Replayed) as replayed:
        board.book_seat(event_id, caller=ALICE, idempotency=key(ALICE))

    assert replayed.value.response.status == 201
    assert replayed.value.response.body == b"answer to Booking"
    assert replayed.value.response.position == first.position
    assert bookings(board, event_id) == 1


def test_the_same_key_with_another_request_is_refused(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    board.book_seat(event_id, caller=ALICE, idempotency=key(ALICE))

    with pytest.raises(IdempotencyKeyReused):
        board.cancel_booking(event_id, caller=ALICE, idempotency=key(ALICE, fingerprint="other"))
    assert bookings(board, event_id) == 1


def test_keys_belong_to_their_user(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    board.book_seat(event_id, caller=ALICE, idempotency=key(ALICE))

    board.book_seat(event_id, caller=ORGANIZER, idempotency=key(ORGANIZER))

    assert bookings(board, event_id) == 2


def test_a_key_whose_request_is_still_running_is_refused(board: Board) -> None:
    running, release = threading.Event(), threading.Event()

    def slow(_uow: UnitOfWork) -> None:
        running.set()
        release.wait(5)

    first = board.commits.submit(Command(slow, key(ALICE)))
    running.wait(5)
    try:
        with pytest.raises(IdempotencyInProgress):
            board.create_tag("занят", idempotency=key(ALICE))
    finally:
        release.set()
    first.result()
    board.create_tag("свободен", idempotency=key(ALICE, name="k-2"))


def test_a_refused_request_keeps_nothing_under_its_key(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=1).aggregate.id
    board.book_seat(event_id, caller=ORGANIZER)

    with pytest.raises(NoFreeSeats):
        board.book_seat(event_id, caller=ALICE, idempotency=key(ALICE))
    board.cancel_booking(event_id, caller=ORGANIZER)
    booked = board.book_seat(event_id, caller=ALICE, idempotency=key(ALICE))

    assert booked.position > 0


def test_a_key_is_kept_for_24_hours_and_then_forgotten(board: Board, clock: ManualClock) -> None:
    board.create_tag("первый", idempotency=key(ALICE, fingerprint="a"))
    clock.advance(24 * 3600 - 1)
    with pytest.raises(IdempotencyKeyReused):
        board.create_tag("второй", idempotency=key(ALICE, fingerprint="b"))
    clock.advance(2)

    assert board.create_tag("второй", idempotency=key(ALICE, fingerprint="b")).position == 2


def test_forgotten_keys_are_pruned(board: Board, clock: ManualClock) -> None:
    board.create_tag("старый", idempotency=key(ALICE))
    clock.advance(25 * 3600)

    board.create_tag("новый")

    assert isinstance(board.recorder, MemoryRecorder)
    assert board.recorder.find_response(ALICE.id, "k-1", datetime.min.replace(tzinfo=UTC)) is None


def test_concurrent_requests_with_one_key_do_the_work_once(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=50).aggregate.id

    def book() -> str:
        try:
            board.book_seat(event_id, caller=ALICE, idempotency=key(ALICE))
        except (Replayed, IdempotencyInProgress) as outcome:
            return type(outcome).__name__
        return "booked"

    with ThreadPoolExecutor(8) as pool:
        outcomes = [f.result() for f in [pool.submit(book) for _ in range(8)]]

    assert outcomes.count("booked") == 1
    assert bookings(board, event_id) == 1
