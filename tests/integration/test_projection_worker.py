"""The projector as a process: a real faust worker consuming from the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import psycopg
import pytest
from kafka import KafkaProducer
from psycopg.rows import dict_row

from board.topics import ensure_topics
from outbox_relay.producer import OutgoingMessage, build_producer, send_all
from outbox_relay.publisher import Row, record_sent
from shared.application.board import Board
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.read_model.migrate import upgrade
from shared.settings import Settings
from tests.builders import event_details
from tests.waiting import eventually

pytestmark = pytest.mark.integration

ORGANIZER = Caller(uuid4(), "organizer")
# Joining a consumer group on the embedded broker takes a rebalance timeout or so, after a
# cold start of the worker (faust, both projections' agents): over 15 s on a busy machine.
WAIT_SECONDS = 30.0
T = TypeVar("T")


@pytest.fixture
def board(settings: Settings) -> Iterator[Board]:
    board = Board(settings, env=event_store_env(settings))
    yield board
    board.close()


@pytest.fixture
def worker(settings: Settings, board: Board, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    ensure_topics(settings)
    upgrade(settings.database_url)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "BOARD_ENV": settings.env,
        "BOARD_SECRET_KEY": settings.secret_key,
        "BOARD_TOPIC_PREFIX": settings.topic_prefix,
        "BOARD_KAFKA_PARTITIONS": str(settings.kafka_partitions),
        "BOARD_SAFETY_ROUND_SECONDS": "1",
        "BOARD_DATA_DIR": str(tmp_path),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "projections.read_models.main"],
            env=env,
            stdout=output,
            stderr=output,
        )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        sys.stderr.write(log.read_text(errors="replace")[-8000:])
    assert process.returncode == 0


@pytest.fixture
def producer(settings: Settings) -> Iterator[KafkaProducer]:
    producer = build_producer(settings)
    yield producer
    producer.close()


class ReadSide:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def row(self, event_id: UUID, version: int) -> dict[str, Any] | None:
        found = self.query(
            "SELECT * FROM read_model.events WHERE id = %s AND version >= %s", event_id, version
        )
        return found[0] if found else None

    def watermark_at(self, position: int) -> int | None:
        found = self.query(
            "SELECT position FROM read_model.watermarks WHERE projection = 'events'"
            " AND position >= %s",
            position,
        )
        return found[0]["position"] if found else None

    def outbox(self, position: int) -> Row:
        [row] = self.query(
            "SELECT position, stream, key, payload FROM event_store.outbox WHERE position = %s",
            position,
        )
        return row["position"], row["stream"], row["key"], row["payload"]


def publish(producer: KafkaProducer, settings: Settings, *rows: Row) -> None:
    """Send the rows and record them as the relay does (sent again: a duplicate)."""
    messages = [
        OutgoingMessage(settings.topic(stream), key.encode(), payload, position)
        for position, stream, key, payload in rows
    ]
    sent = send_all(producer, messages)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        record_sent(conn, rows, sent, head=max(row[0] for row in rows))


def test_a_produced_event_reaches_the_read_model_and_a_duplicate_changes_nothing(
    settings: Settings,
    board: Board,
    worker: subprocess.Popen[bytes],
    producer: KafkaProducer,
) -> None:
    read_side = ReadSide(settings.database_url)
    saved = board.schedule_event(
        event_details(
            datetime.now(UTC) + timedelta(days=3),
            title="Митап",
            description="о потоках",
            location="Новосибирск",
            seats=30,
            # No tags: a new tag is stored with the event, after it, and would be the position.
            tags=[],
        ),
        caller=ORGANIZER,
    )
    scheduled = read_side.outbox(saved.position)

    publish(producer, settings, scheduled)

    first = eventually(
        lambda: read_side.row(saved.aggregate.id, 1), "the scheduled event", timeout=WAIT_SECONDS
    )
    eventually(
        lambda: read_side.watermark_at(saved.position), "the watermark", timeout=WAIT_SECONDS
    )
    updated = board.update_event(saved.aggregate.id, caller=ORGANIZER, changes={"title": "Доклад"})
    # Same key, same partition: the update is consumed after the duplicate.
    publish(producer, settings, scheduled, read_side.outbox(updated.position))
    second = eventually(
        lambda: read_side.row(saved.aggregate.id, 2), "the update", timeout=WAIT_SECONDS
    )
    assert second == {
        **first,
        "title": "Доклад",
        "version": 2,
        "position": updated.position,
        "updated_at": second["updated_at"],
        "search_vector": second["search_vector"],
        "calendar_sequence": 1,
    }
    assert "доклад" in second["search_vector"]
    assert second["updated_at"] > first["updated_at"]
    assert read_side.query("SELECT * FROM read_model.parked_messages") == []
    assert eventually(
        lambda: read_side.watermark_at(updated.position), "the watermark", timeout=WAIT_SECONDS
    ) == (updated.position)
