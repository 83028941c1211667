"""`board projections status`: watermark, lag and parked messages of each projection."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import psycopg
import pytest
from rich.console import Console

from board.projection_status import render_status
from board.setup import set_up
from shared.application.board import Board
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.read_model.projection_status import ProjectionStatus, read_status
from shared.settings import Settings
from tests.builders import event_details

pytestmark = pytest.mark.integration


def schedule_events(settings: Settings, count: int) -> int:
    board = Board(settings, env=event_store_env(settings))
    try:
        caller = Caller(uuid4(), "organizer")
        return max(
            board.schedule_event(
                event_details(
                    datetime.now(UTC) + timedelta(days=1),
                    title=f"Event {n}",
                    description="About it",
                ),
                caller=caller,
            ).position
            for n in range(count)
        )
    finally:
        board.close()


def test_status_shows_how_far_behind_each_projection_is(settings: Settings) -> None:
    set_up(settings)
    head = schedule_events(settings, 3)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO read_model.watermarks (projection, position) VALUES"
            " ('events', %s), ('users', %s)",
            (head, head - 2),
        )
        conn.execute(
            "INSERT INTO read_model.parked_messages"
            " (projection, position, aggregate_id, payload, error, parked_at)"
            " VALUES ('users', %s, %s, %s, 'boom', now())",
            (head, uuid4(), b"{}"),
        )

    report = read_status(settings.database_url)

    assert report.head == head
    assert report.projections == [
        ProjectionStatus("events", watermark=head, lag=0, parked=0),
        ProjectionStatus("users", watermark=head - 2, lag=2, parked=1),
    ]


def test_status_of_a_fresh_store_lists_no_projection(settings: Settings) -> None:
    set_up(settings)
    output = io.StringIO()

    report = read_status(settings.database_url)
    render_status(report, Console(file=output, width=120))

    assert report.head == 0
    assert report.projections == []
    assert "outbox head: position 0" in output.getvalue()
