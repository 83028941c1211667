"""The Board application on in-memory persistence: commands, outbox mapping, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from shared.application import Board, Saved
from shared.clock import ManualClock
from shared.domain.errors import EventNotFound
from shared.domain.event import Event
from shared.identity import Caller
from shared.integration import domain_event_id, to_integration_event
from shared.settings import EVENTS_STREAM, Settings

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def board(clock: ManualClock) -> Board:
    return Board(Settings(), clock, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def schedule(board: Board, caller: Caller, **overrides: Any) -> Saved[Event]:
    fields: dict[str, Any] = {
        "title": "A",
        "description": "d",
        "start_time": START + timedelta(hours=3),
        "timezone": "UTC",
        "location": "Омск",
        "seats": 1,
        "tags": [],
    }
    fields.update(overrides)
    return board.schedule_event(caller=caller, **fields)


def test_scheduling_returns_the_event_and_its_global_position(board: Board) -> None:
    caller = Caller(uuid4(), "bob")

    first = schedule(board, caller)
    second = schedule(board, caller, title="B")

    assert (first.position, second.position) == (1, 2)
    assert board.get_event(first.aggregate.id).organizer_username == "bob"


def test_an_unknown_event_is_not_found(board: Board) -> None:
    with pytest.raises(EventNotFound):
        board.get_event(uuid4())


def test_an_update_uses_the_clock_and_reports_the_new_position(
    board: Board, clock: ManualClock
) -> None:
    caller = Caller(uuid4(), "bob")
    saved = schedule(board, caller)
    clock.advance(60)

    updated = board.update_event(saved.aggregate.id, caller=caller, changes={"seats": 3})

    assert updated.position == 2
    assert updated.aggregate.seats == 3
    assert updated.aggregate.changed_at == START + timedelta(seconds=60)


def test_a_no_op_update_stores_nothing_and_reports_position_zero(board: Board) -> None:
    caller = Caller(uuid4(), "bob")
    saved = schedule(board, caller)

    assert board.update_event(saved.aggregate.id, caller=caller, changes={"seats": 1}).position == 0


def test_the_integration_event_is_the_public_contract_of_a_domain_event(board: Board) -> None:
    caller_id = uuid4()
    saved = schedule(board, Caller(caller_id, "eve"), tags=["x"])
    [domain_event] = board.repository.event_store.get(saved.aggregate.id)

    integration = to_integration_event(domain_event)
    message = integration.to_message(position=42)

    assert integration.stream == EVENTS_STREAM
    assert integration.key == str(saved.aggregate.id)
    assert message == {
        "id": str(domain_event_id(saved.aggregate.id, 1)),
        "type": "event.scheduled",
        "schema": 1,
        "aggregate_type": "event",
        "aggregate_id": str(saved.aggregate.id),
        "version": 1,
        "position": 42,
        "occurred_at": "2026-12-01T12:00:00Z",
        "data": {
            "title": "A",
            "description": "d",
            "start_time": "2026-12-01T15:00:00Z",
            "timezone": "UTC",
            "location": "Омск",
            "seats": 1,
            "tags": ["x"],
            "organizer_id": str(caller_id),
            "organizer_username": "eve",
        },
    }
