"""The committer: commands in groups, one consistency boundary, conflicts with other writers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from shared.application.board import EVENT_SNAPSHOT_INTERVAL, Board
from shared.application.commits import MAX_CONFLICT_RETRIES, MAX_GROUP_EVENTS, Command, UnitOfWork
from shared.domain.errors import ConcurrentModification, DomainError
from shared.domain.event import Event
from shared.identity import Caller
from tests.unit.scenarios import schedule

ORGANIZER = Caller(uuid4(), "organizer")


def guests(count: int) -> list[Caller]:
    return [Caller(uuid4(), f"guest{n}") for n in range(count)]


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except DomainError as error:
        return error.code
    return "ok"


@contextmanager
def committer_held(board: Board, then_waiting: int) -> Iterator[None]:
    """Keep the committer busy until `then_waiting` commands queue behind it."""
    running, release = threading.Event(), threading.Event()

    def hold(_uow: UnitOfWork) -> None:
        running.set()
        release.wait(5)

    board.commits.submit(Command(hold))
    running.wait(5)
    try:
        yield
        deadline = time.monotonic() + 5
        while board.commits.waiting < then_waiting and time.monotonic() < deadline:
            time.sleep(0.001)
    finally:
        release.set()


def in_threads(calls: list[Callable[[], str]]) -> list[str]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def book_all(board: Board, event_id: UUID, callers: list[Caller]) -> list[Callable[[], str]]:
    return [lambda c=c: outcome(lambda: board.book_seat(event_id, caller=c)) for c in callers]


def test_commands_that_wait_together_are_saved_together(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=20).aggregate.id
    groups_before = board.commits.stats.groups

    with ThreadPoolExecutor(10) as pool:
        with committer_held(board, then_waiting=10):
            futures = [pool.submit(board.book_seat, event_id, caller=guest) for guest in guests(10)]
        positions = sorted(f.result().position for f in futures)

    assert positions == list(range(positions[0], positions[0] + 10))
    assert board.commits.stats.groups - groups_before == 2


def test_no_interleaving_oversells_an_event(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=50).aggregate.id

    outcomes = Counter(in_threads(book_all(board, event_id, guests(200))))

    assert outcomes == {"ok": 50, "no_free_seats": 150}
    assert board.get_event(event_id).booked_count == 50
    assert board.commits.stats.conflict_retries == 0


def test_one_user_booking_twice_at_once_gets_one_booking(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=50).aggregate.id
    [guest] = guests(1)

    outcomes = Counter(in_threads(book_all(board, event_id, [guest] * 8)))

    assert outcomes == {"ok": 1, "already_booked": 7}


def test_a_group_holds_about_a_hundred_domain_events_and_the_rest_waits_for_the_next(
    board: Board,
) -> None:
    event_id = schedule(board, ORGANIZER, seats=500).aggregate.id
    groups_before = board.commits.stats.groups
    many = MAX_GROUP_EVENTS + 50

    with ThreadPoolExecutor(many) as pool:
        with committer_held(board, then_waiting=many):
            futures = [pool.submit(board.book_seat, event_id, caller=g) for g in guests(many)]
        assert all(f.result().position > 0 for f in futures)

    assert board.commits.stats.groups - groups_before == 3


def another_process_books(board: Board, event_id: UUID, guest: Caller) -> None:
    """Write behind the committer's back, as a second process with its own cache would."""
    elsewhere = board.get_event(event_id)
    elsewhere.book(user_id=guest.id, username=guest.username, now=board.clock.now())
    board.save(elsewhere)


def test_a_command_on_a_copy_another_process_changed_is_run_again(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    first, second = guests(2)
    board.book_seat(event_id, caller=first)
    another_process_books(board, event_id, second)

    booked = board.book_seat(event_id, caller=ORGANIZER)

    assert booked.position == 4
    assert board.commits.stats.conflict_retries == 1
    assert board.get_event(event_id).booked_count == 3


def test_a_refusal_on_a_stale_copy_is_decided_again_on_a_fresh_one(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=1).aggregate.id
    [guest] = guests(1)
    board.book_seat(event_id, caller=guest)
    elsewhere = board.get_event(event_id)
    elsewhere.cancel_booking(user_id=guest.id, now=board.clock.now())
    board.save(elsewhere)

    board.book_seat(event_id, caller=ORGANIZER)

    assert board.commits.stats.conflict_retries == 1


def test_conflicts_that_never_end_are_answered_concurrent_modification(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id

    def always_conflicting(*_aggregates: Any, **_kwargs: Any) -> None:
        raise IntegrityError("another writer won")

    monkeypatch.setattr(board, "save", always_conflicting)

    with pytest.raises(ConcurrentModification):
        board.book_seat(event_id, caller=ORGANIZER)
    assert board.commits.stats.conflict_retries == MAX_CONFLICT_RETRIES + 1


def test_a_command_that_fails_outright_spoils_nothing_of_its_group(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=5).aggregate.id
    alice, bob, carol = guests(3)

    def half_done(uow: UnitOfWork) -> None:
        found = uow.find(event_id, Event)
        assert found is not None
        found.book(user_id=bob.id, username=bob.username, now=board.clock.now())
        raise RuntimeError("a bug after a change")

    with ThreadPoolExecutor(2) as pool:
        with committer_held(board, then_waiting=3):
            broken = board.commits.submit(Command(half_done))
            booked = [pool.submit(board.book_seat, event_id, caller=c) for c in (alice, carol)]
        assert all(f.result().position > 0 for f in booked)

    with pytest.raises(RuntimeError):
        broken.result()
    assert set(board.get_event(event_id).bookings) == {str(alice.id), str(carol.id)}


def test_an_event_with_many_bookings_loads_from_its_snapshot(board: Board) -> None:
    event_id = schedule(board, ORGANIZER, seats=1000).aggregate.id

    in_threads(book_all(board, event_id, guests(EVENT_SNAPSHOT_INTERVAL)))

    assert board.snapshots is not None
    [snapshot] = board.snapshots.get(event_id)
    assert snapshot.originator_version >= EVENT_SNAPSHOT_INTERVAL
    assert len(snapshot.state["bookings"]) == snapshot.originator_version - 1  # type: ignore[attr-defined]
    assert board.get_event(event_id).booked_count == EVENT_SNAPSHOT_INTERVAL
