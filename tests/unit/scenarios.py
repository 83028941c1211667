"""What the application tests share: the moment they start at and a way to schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.application.board import Board
from shared.application.commits import Saved
from shared.domain.event import EventView
from shared.identity import Caller
from tests.builders import event_details

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def schedule(board: Board, caller: Caller, **overrides: Any) -> Saved[EventView]:
    given = {"title": "A", "description": "d", "location": "Омск", "timezone": "UTC", "seats": 1}
    details = event_details(**{"start_time": START + timedelta(hours=3), **given, **overrides})
    return board.schedule_event(details, caller=caller)
