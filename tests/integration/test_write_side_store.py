"""What the write side keeps in PostgreSQL besides the events: answers of keyed writes, in
the events' transaction, and snapshots of busy events; and processes that start together
on one database all start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresRecorder

from command_api.app import open_board
from shared.application.board import EVENT_SNAPSHOT_INTERVAL, Board
from shared.application.commits import PendingResponse
from shared.application.idempotency import IDEMPOTENCY_KWARG, Idempotency, KeptResponse, Replayed
from shared.clock import ManualClock
from shared.domain.errors import IdempotencyKeyReused
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.infra.ddl_lock import EVENT_STORE_DDL_LOCK_KEY
from shared.settings import Settings
from tests.builders import event_details
from tests.conftest import new_database, settings_for

pytestmark = pytest.mark.integration

ORGANIZER = Caller(uuid4(), "organizer")
GUEST = Caller(uuid4(), "guest")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def boards(settings: Settings, clock: ManualClock) -> Iterator[tuple[Board, Board]]:
    """Two boards on one database, as two processes would have them."""
    first = Board(settings, clock, env=event_store_env(settings))
    second = Board(settings, clock, env=event_store_env(settings))
    yield first, second
    first.close()
    second.close()


def key(fingerprint: str = "POST /book/") -> Idempotency:
    return Idempotency(GUEST.id, "k-1", fingerprint, lambda _result: (201, b'{"ok":true}'))


def schedule(board: Board, seats: int = 10) -> UUID:
    return board.schedule_event(
        event_details(
            board.clock.now() + timedelta(days=3),
            title="Лекция",
            description="О хранилище",
            timezone="UTC",
            location="Пермь",
            seats=seats,
        ),
        caller=ORGANIZER,
    ).aggregate.id


def count(settings: Settings, table: str) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM event_store.{table}").fetchone()
    assert row is not None
    return int(row[0])


def test_a_write_whose_key_is_answered_already_stores_nothing(
    boards: tuple[Board, Board], settings: Settings
) -> None:
    first, second = boards
    event_id = schedule(first)
    first.book_seat(event_id, caller=GUEST, idempotency=key())
    before = (count(settings, "outbox"), first.recorder.max_notification_id())
    late = second.get_event(event_id)
    late.book(user_id=ORGANIZER.id, username=ORGANIZER.username, now=second.clock.now())
    [event] = late.pending_events

    with pytest.raises(IntegrityError):
        second.save(late, **{IDEMPOTENCY_KWARG: [PendingResponse(key(), 201, b"", [event])]})

    assert (count(settings, "outbox"), first.recorder.max_notification_id()) == before


def test_a_key_answered_by_another_process_meanwhile_replays_rather_than_refuses(
    boards: tuple[Board, Board], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = boards
    event_id = schedule(first)
    answered = first.book_seat(event_id, caller=GUEST, idempotency=key())
    looks: list[KeptResponse | None] = []
    find = second.history.find_response

    def not_answered_when_first_asked(*args: Any) -> KeptResponse | None:
        # The other process commits only after this one looked for the key.
        looks.append(find(*args) if looks else None)
        return looks[-1]

    monkeypatch.setattr(second.history, "find_response", not_answered_when_first_asked)

    with pytest.raises(Replayed) as replayed:
        second.book_seat(event_id, caller=GUEST, idempotency=key())

    assert replayed.value.response.position == answered.position
    assert second.get_event(event_id).booked_count == 1


def test_a_key_is_kept_for_a_day_across_processes(
    boards: tuple[Board, Board], clock: ManualClock
) -> None:
    first, second = boards
    event_id = schedule(first)
    first.book_seat(event_id, caller=GUEST, idempotency=key())

    with pytest.raises(IdempotencyKeyReused):
        second.cancel_booking(event_id, caller=GUEST, idempotency=key("POST /cancel/"))
    clock.advance(24 * 3600 + 1)
    cancelled = second.cancel_booking(event_id, caller=GUEST, idempotency=key("POST /cancel/"))

    assert cancelled.position > 0


def test_a_busy_event_is_snapshotted_and_loads_afresh_elsewhere(
    boards: tuple[Board, Board], settings: Settings
) -> None:
    first, second = boards
    event_id = schedule(first, seats=EVENT_SNAPSHOT_INTERVAL + 10)
    guests = [Caller(uuid4(), f"guest{n}") for n in range(EVENT_SNAPSHOT_INTERVAL)]

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda guest: first.book_seat(event_id, caller=guest), guests))

    assert count(settings, "board_snapshots") >= 1
    loaded = second.get_event(event_id)
    assert loaded.bookings.keys() == {str(guest.id) for guest in guests}
    assert second.book_seat(event_id, caller=ORGANIZER).position > 0


@pytest.mark.fresh_database
def test_every_table_of_the_event_store_is_created_under_the_ddl_lock(
    settings: Settings, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[tuple[str, bool]] = []
    create_table = PostgresRecorder.create_table

    def noting_the_lock(recorder: PostgresRecorder) -> None:
        with psycopg.connect(settings.database_url) as conn:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND (classid::bigint << 32) + objid::bigint = %s",
                (EVENT_STORE_DDL_LOCK_KEY,),
            ).fetchone()
        created.append((type(recorder).__name__, held == (1,)))
        create_table(recorder)

    monkeypatch.setattr(PostgresRecorder, "create_table", noting_the_lock)

    Board(settings, clock, env=event_store_env(settings)).close()

    assert len(created) >= 2  # the events' recorder and the snapshots'
    assert all(held for _, held in created), created


def test_processes_starting_together_on_one_database_all_start(
    postgres_server_url: str, kafka_bootstrap: str, clock: ManualClock
) -> None:
    together = 8
    start = threading.Barrier(together)

    def construct(settings: Settings) -> None:
        start.wait()
        open_board(settings, clock).close()

    # An empty database each round: creating the tables is what races, not finding them.
    for _round in range(3):
        with new_database(postgres_server_url) as url:
            settings = settings_for(url, kafka_bootstrap)
            with ThreadPoolExecutor(together) as pool:
                list(pool.map(construct, [settings] * together))
