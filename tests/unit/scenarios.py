"""What the application tests share: the moment they start at and a way to schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.application.board import Board
from shared.application.commits import Saved
from shared.domain.event import EventView
from shared.identity import Caller

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def schedule(board: Board, caller: Caller, **overrides: Any) -> Saved[EventView]:
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
