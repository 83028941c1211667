"""The bulk generator: the sizes asked for, and every rule of the aggregates kept."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from board.demo_data import DemoSize, fill_board
from shared.application.board import Board
from shared.domain.event import FINISHED, Event
from shared.integration.events import to_integration_event

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_the_generator_stores_about_the_sizes_asked_for_through_the_recorder(
    board: Board,
) -> None:
    saves: list[int] = []

    filled = fill_board(
        board, DemoSize(events=400, bookings=4000, ratings=800), now=NOW, on_saved=saves.append
    )

    stored = list(board.recorder.select_notifications(0, 100_000))
    types = Counter(
        event.type
        for n in stored
        if (event := to_integration_event(board.mapper.to_domain_event(n))) is not None
    )
    assert filled.events == types["event.scheduled"] == 400
    assert filled.bookings == types["booking.created"]
    assert filled.ratings == types["rating.set"]
    assert 3000 < filled.bookings < 5000
    assert 500 < filled.ratings < 1100
    assert filled.domain_events == len(stored)
    assert len(saves) == 400 // 50 + 1


def test_generated_events_keep_their_invariants(board: Board) -> None:
    fill_board(board, DemoSize(events=200, bookings=3000, ratings=500), now=NOW, seed=7)

    events = [
        board.repository.get(n.originator_id)
        for n in board.recorder.select_notifications(0, 100_000)
        if n.topic.endswith("Event.Scheduled")
    ]
    assert len(events) == 200
    for event in events:
        assert isinstance(event, Event)
        assert len(event.bookings) <= event.seats
        assert set(event.ratings) <= set(event.bookings)
        assert not event.ratings or event.start_time < NOW
        assert event.status != FINISHED or event.start_time < NOW
