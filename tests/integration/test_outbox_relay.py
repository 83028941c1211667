"""The outbox relay against real PostgreSQL and a real broker: order, at least once, failover."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from board.topics import ensure_topics
from outbox_relay.producer import Sent, build_producer
from outbox_relay.pruning import prune_published
from outbox_relay.publisher import OutboxPublisher, Row
from outbox_relay.relay import OutboxRelay
from outbox_relay.republish import republish
from shared.application.board import Board
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.integration.names import EVENTS_STREAM
from shared.read_model.schema import watermarks
from shared.settings import Settings
from tests.builders import event_details
from tests.waiting import eventually

pytestmark = pytest.mark.integration

WAIT_SECONDS = 8.0
ORGANIZER = Caller(uuid4(), "organizer")


@dataclass(frozen=True)
class Delivered:
    key: bytes
    value: bytes

    @property
    def message(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.value)
        return decoded

    @property
    def position(self) -> int:
        return int(self.message["position"])


@dataclass(frozen=True)
class OutboxRow:
    position: int
    key: str
    payload: bytes
    published: bool


class TopicReader:
    """Reads every partition of a topic from the start, without a consumer group."""

    def __init__(self, settings: Settings, stream: str = EVENTS_STREAM) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
        )
        topic = settings.topic(stream)
        self._consumer.assign([TopicPartition(topic, p) for p in range(settings.kafka_partitions)])
        self.delivered: list[Delivered] = []

    def read_until(self, count: int) -> list[Delivered]:
        """Everything delivered so far, once there are at least `count` messages."""
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.delivered) < count and time.monotonic() < deadline:
            for records in self._consumer.poll(timeout_ms=50).values():
                self.delivered.extend(Delivered(r.key, r.value) for r in records)
        assert len(self.delivered) >= count, f"{len(self.delivered)} of {count} delivered"
        return list(self.delivered)

    def close(self) -> None:
        self._consumer.close()


def outbox_rows(settings: Settings) -> list[OutboxRow]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT position, key, payload, published_at IS NOT NULL"
            " FROM event_store.outbox ORDER BY position"
        ).fetchall()
    return [OutboxRow(p, k, bytes(v), published) for p, k, v, published in rows]


def all_published(settings: Settings) -> bool:
    return all(row.published for row in outbox_rows(settings))


def schedule(board: Board, title: str = "Митап") -> UUID:
    saved = board.schedule_event(
        event_details(datetime.now(UTC) + timedelta(days=7), title=title, description="d"),
        caller=ORGANIZER,
    )
    return saved.aggregate.id


def retitle(board: Board, event_id: UUID, title: str) -> None:
    board.update_event(event_id, caller=ORGANIZER, changes={"title": title})


def positions_by_key(delivered: Sequence[Delivered]) -> dict[bytes, list[int]]:
    by_key: dict[bytes, list[int]] = {}
    for d in delivered:
        by_key.setdefault(d.key, []).append(d.position)
    return by_key


@contextmanager
def running(relay: OutboxRelay) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        relay.stop()
        thread.join(timeout=WAIT_SECONDS)


@pytest.fixture
def board(settings: Settings) -> Iterator[Board]:
    ensure_topics(settings)
    app = Board(settings, env=event_store_env(settings))
    yield app
    app.close()


@pytest.fixture
def reader(settings: Settings) -> Iterator[TopicReader]:
    topic_reader = TopicReader(settings)
    yield topic_reader
    topic_reader.close()


def test_every_committed_event_reaches_kafka_in_outbox_order_per_aggregate(
    settings: Settings, board: Board, reader: TopicReader
) -> None:
    # Given three events, each scheduled and then retitled three times
    event_ids = [schedule(board, f"Событие {n}") for n in range(3)]
    for round_ in range(3):
        for event_id in event_ids:
            retitle(board, event_id, f"Новое название {round_}")

    # When the relay runs
    with running(OutboxRelay(settings)):
        delivered = reader.read_until(12)
        eventually(
            lambda: all_published(settings),
            "every outbox row is marked published",
            timeout=WAIT_SECONDS,
        )

    # Then each aggregate's messages arrived once each, keyed by its id, in outbox order
    rows = outbox_rows(settings)
    expected: dict[bytes, list[int]] = {}
    for row in rows:
        expected.setdefault(row.key.encode(), []).append(row.position)
    assert set(expected) == {str(e).encode() for e in event_ids}
    assert positions_by_key(delivered) == expected
    assert {d.value for d in delivered} == {row.payload for row in rows}
    assert all(d.message["aggregate_id"] == d.key.decode() for d in delivered)


def test_outbox_order_is_commit_order_under_concurrent_writers(
    settings: Settings, board: Board
) -> None:
    # Given a reader tailing the outbox the way the relay does: only rows after the last seen
    seen: list[int] = []
    writers_done = threading.Event()

    def tail() -> None:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            while True:
                finished = writers_done.is_set()
                last = seen[-1] if seen else 0
                rows = conn.execute(
                    "SELECT position FROM event_store.outbox WHERE position > %s ORDER BY position",
                    (last,),
                ).fetchall()
                seen.extend(position for (position,) in rows)
                if finished:
                    return

    tailer = threading.Thread(target=tail)
    tailer.start()

    # When eight threads write 200 events at once through one application
    with ThreadPoolExecutor(max_workers=8) as writers:
        written = list(writers.map(lambda n: schedule(board, f"Событие {n}"), range(200)))
    writers_done.set()
    tailer.join(timeout=WAIT_SECONDS)

    # Then the outbox holds exactly the stored events' positions, one row each
    notifications = board.recorder.select_notifications(1, 1000)
    outbox_positions = [row.position for row in outbox_rows(settings)]
    assert len(notifications) == len(written) == 200
    assert sorted(outbox_positions) == [n.id for n in notifications]
    # And the tailing reader saw every row, each once, in position order: no row became
    # visible after a row with a higher position (the reader would have skipped it)
    assert seen == outbox_positions


def test_a_save_that_fails_on_the_outbox_insert_stores_no_event(
    settings: Settings, board: Board
) -> None:
    # Given a stored event, and an outbox that refuses any further row
    schedule(board)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "CREATE FUNCTION event_store.refuse_outbox_row() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'outbox row refused'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse_outbox_row BEFORE INSERT ON event_store.outbox"
            " FOR EACH ROW EXECUTE FUNCTION event_store.refuse_outbox_row()"
        )
    before_events = board.recorder.select_notifications(1, 100)
    before_outbox = outbox_rows(settings)

    # When a save writes its event and then fails to insert its outbox row
    with pytest.raises(PersistenceError, match="outbox row refused"):
        schedule(board, "Не сохранится")

    # Then neither the event nor any outbox row was stored
    assert board.recorder.select_notifications(1, 100) == before_events
    assert outbox_rows(settings) == before_outbox


def test_a_save_of_two_aggregates_with_one_conflict_stores_neither(
    settings: Settings, board: Board
) -> None:
    # Given a stale copy of an event that another writer has changed meanwhile
    existing_id = schedule(board)
    stale = board.get_event(existing_id)
    retitle(board, existing_id, "Другой писатель")
    stale.update(
        changes={"title": "Устаревшая правка"},
        by_user_id=ORGANIZER.id,
        by_staff=False,
        now=datetime.now(UTC),
        edit_window_seconds=settings.edit_window_seconds,
    )
    fresh = board.get_event(schedule(board, "Черновик"))
    fresh.update(
        changes={"title": "Новая правка"},
        by_user_id=ORGANIZER.id,
        by_staff=False,
        now=datetime.now(UTC),
        edit_window_seconds=settings.edit_window_seconds,
    )
    before_events = board.recorder.select_notifications(1, 100)
    before_outbox = outbox_rows(settings)

    # When both are saved in one transaction and the stale one conflicts
    with pytest.raises(IntegrityError):
        board.save(fresh, stale)

    # Then the other aggregate's event was not stored either, nor any outbox row
    assert board.recorder.select_notifications(1, 100) == before_events
    assert outbox_rows(settings) == before_outbox
    assert board.get_event(fresh.id).title == "Черновик"


class RelayKilled(Exception):
    """Stands for the relay process dying."""


class DyingAfterAck(OutboxPublisher):
    def _record(self, rows: Sequence[Row], sent: Sequence[Sent], *, head: int) -> None:
        raise RelayKilled


def test_a_relay_killed_between_ack_and_mark_loses_nothing_and_sends_again(
    settings: Settings, board: Board, reader: TopicReader
) -> None:
    # Given events, and a relay that dies after the broker acknowledged them
    for n in range(5):
        schedule(board, f"Событие {n}")
    producer = build_producer(settings)
    with (
        psycopg.connect(settings.database_url, autocommit=True) as conn,
        pytest.raises(RelayKilled),
    ):
        DyingAfterAck(conn, producer, settings).publish_pending()
    producer.close()
    assert len(reader.read_until(5)) == 5
    assert not any(row.published for row in outbox_rows(settings))

    # When a fresh relay starts
    with running(OutboxRelay(settings)):
        eventually(
            lambda: all_published(settings),
            "every outbox row is marked published",
            timeout=WAIT_SECONDS,
        )
        delivered = reader.read_until(10)

    # Then every position was delivered again, after its first delivery
    positions = [row.position for row in outbox_rows(settings)]
    for key_positions in positions_by_key(delivered).values():
        assert len(key_positions) == 2
        assert key_positions[0] == key_positions[1]
    assert sorted(d.position for d in delivered) == sorted(positions * 2)


def test_a_relay_that_finds_the_broker_lost_what_it_sent_sends_that_before_anything_new(
    settings: Settings, board: Board
) -> None:
    # Given an event sent with two changes, then the broker losing everything (a broker
    # that comes back empty: topics of another name), and two changes never sent
    event_id = schedule(board)
    for n in range(2):
        retitle(board, event_id, f"Версия {n}")
    with running(OutboxRelay(settings)):
        eventually(lambda: all_published(settings), "the first rows sent", timeout=WAIT_SECONDS)
    for n in range(2, 4):
        retitle(board, event_id, f"Версия {n}")
    emptied = settings.model_copy(update={"topic_prefix": f"emptied-{uuid4().hex[:8]}"})
    ensure_topics(emptied)
    reader = TopicReader(emptied)

    # When a relay becomes active against it
    try:
        with running(OutboxRelay(emptied)):
            delivered = reader.read_until(5)
    finally:
        reader.close()

    # Then the aggregate's messages arrive in position order, the lost ones first
    positions = [d.position for d in delivered]
    assert positions == sorted(positions)
    assert sorted(set(positions)) == [row.position for row in outbox_rows(settings)]


def test_a_standby_relay_takes_over_when_the_active_one_stops(
    settings: Settings, board: Board, reader: TopicReader
) -> None:
    # Given an active relay and a second one started after it
    first, second = OutboxRelay(settings), OutboxRelay(settings)
    with running(first) as first_thread:
        eventually(lambda: first.is_active, "the first relay is active", timeout=WAIT_SECONDS)
        with running(second):
            schedule(board, "При первом")
            reader.read_until(1)
            eventually(
                lambda: all_published(settings),
                "the first relay marked its row",
                timeout=WAIT_SECONDS,
            )
            assert not second.is_active

            # When the active relay stops
            first.stop()
            first_thread.join(timeout=WAIT_SECONDS)
            schedule(board, "При втором")

            # Then the standby relay publishes what is written next
            delivered = reader.read_until(2)
            eventually(
                lambda: all_published(settings),
                "the second relay marked its row",
                timeout=WAIT_SECONDS,
            )
            assert second.is_active
    assert [d.message["data"]["title"] for d in delivered] == ["При первом", "При втором"]


def test_publishing_goes_on_when_the_active_relays_connection_dies(
    settings: Settings, board: Board, reader: TopicReader
) -> None:
    # Given an active relay and a second one started after it
    first, second = OutboxRelay(settings), OutboxRelay(settings)
    with running(first):
        eventually(lambda: first.is_active, "the first relay is active", timeout=WAIT_SECONDS)
        with running(second):
            # When the server ends the session that holds the relay lock
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                terminated = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                ).fetchall()
            assert terminated == [(True,)]
            for n in range(3):
                schedule(board, f"После сбоя {n}")

            # Then one relay takes the lock again and publishes everything
            reader.read_until(3)
            eventually(
                lambda: all_published(settings),
                "every outbox row is marked published",
                timeout=WAIT_SECONDS,
            )
            eventually(
                lambda: first.is_active != second.is_active,
                "exactly one relay is active",
                timeout=WAIT_SECONDS,
            )


def test_the_relay_process_publishes_until_sigterm_and_then_exits_cleanly(
    settings: Settings, board: Board, reader: TopicReader
) -> None:
    # Given the relay process started from its entry point, configured by the environment
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "BOARD_ENV": settings.env,
        "BOARD_SECRET_KEY": settings.secret_key,
        "BOARD_TOPIC_PREFIX": settings.topic_prefix,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from outbox_relay.main import run_relay; from shared.settings import Settings;"
            " run_relay(Settings())",
        ],
        env=environment,
    )
    try:
        # When an event is written
        schedule(board)

        # Then the process publishes it, and stops on SIGTERM
        reader.read_until(1)
        eventually(
            lambda: all_published(settings),
            "the outbox row is marked published",
            timeout=WAIT_SECONDS,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        process.kill()


def test_republish_sends_the_same_ids_and_positions_again(
    settings: Settings, board: Board, reader: TopicReader
) -> None:
    # Given events the relay has published
    event_id = schedule(board)
    for n in range(3):
        retitle(board, event_id, f"Название {n}")
    schedule(board, "Другое")
    with running(OutboxRelay(settings)):
        original = reader.read_until(5)
        eventually(
            lambda: all_published(settings),
            "every outbox row is marked published",
            timeout=WAIT_SECONDS,
        )

    # When the event store is republished from the third position on
    sent = republish(settings, from_position=3)

    # Then exactly those messages arrive again, byte for byte
    again = reader.read_until(8)[5:]
    assert sent == 3
    assert sorted((d.key, d.value) for d in again) == sorted(
        (d.key, d.value) for d in original if d.position >= 3
    )


def test_published_rows_are_pruned_only_below_every_watermark_after_retention(
    settings: Settings, board: Board
) -> None:
    # Given six published rows and two unpublished ones
    for n in range(8):
        schedule(board, f"Событие {n}")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE event_store.outbox SET published_at = now() WHERE position <= 6")
    no_retention = settings.model_copy(update={"outbox_retention_seconds": 0.0})

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        # When no projection has recorded a watermark, nothing is pruned
        assert prune_published(conn, no_retention) == 0
        engine = create_engine(settings.sqlalchemy_url, poolclass=NullPool)
        watermarks.create(engine, checkfirst=True)
        engine.dispose()
        assert prune_published(conn, no_retention) == 0

        # When the slowest projection is at position 4, rows up to 4 go, but not while retained
        conn.execute(
            "INSERT INTO read_model.watermarks (projection, position)"
            " VALUES ('events', 7), ('notifier', 4)"
        )
        assert prune_published(conn, settings) == 0
        assert prune_published(conn, no_retention) == 4

    # Then the rows after the lowest watermark are still there, published or not
    assert [(r.position, r.published) for r in outbox_rows(settings)] == [
        (5, True),
        (6, True),
        (7, False),
        (8, False),
    ]
