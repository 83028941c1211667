"""The `events` read model: one row per event on the board, as the query API lists it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.folding import Envelope, Projection, Row
from shared.domain.event import EDITABLE_FIELDS, UPCOMING
from shared.read_model.schema import events
from shared.settings import EVENTS_STREAM

EVENTS_PROJECTION = "events"

# How an `event.updated` change travels in JSON → how the column holds it.
_COLUMN_VALUES: dict[str, Callable[[Any], Any]] = {
    "start_time": datetime.fromisoformat,
    "tags": list,
}


def fold_location(location: str) -> str:
    """The form the `location` filter matches: case-folded in Python, Cyrillic included."""
    return location.casefold()


def scheduled(envelope: Envelope, row: Row | None) -> Row:
    data = envelope.data
    return {
        "id": envelope.aggregate_id,
        "title": data["title"],
        "description": data["description"],
        "start_time": datetime.fromisoformat(data["start_time"]),
        "timezone": data["timezone"],
        "location": data["location"],
        "location_folded": fold_location(data["location"]),
        "seats": int(data["seats"]),
        "booked_count": 0,
        "status": UPCOMING,
        "organizer_id": UUID(data["organizer_id"]),
        "organizer_username": data["organizer_username"],
        "tags": list(data["tags"]),
        "rating_sum": 0,
        "rating_count": 0,
        "avg_rating": None,
        "created_at": envelope.occurred_at,
        "updated_at": envelope.occurred_at,
    }


def updated(envelope: Envelope, row: Row | None) -> Row:
    if row is None:
        raise ValueError("an update needs the row it changes")
    changes: dict[str, Any] = envelope.data["changes"]
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"fields that cannot change: {sorted(unknown)}")
    changed = dict(row)
    for name, value in changes.items():
        changed[name] = _COLUMN_VALUES.get(name, _same)(value)
    changed["location_folded"] = fold_location(changed["location"])
    changed["updated_at"] = envelope.occurred_at
    return changed


def _same(value: Any) -> Any:
    return value


EVENTS = Projection(
    name=EVENTS_PROJECTION,
    table=events,
    streams=(EVENTS_STREAM,),
    handlers={"event.scheduled": scheduled, "event.updated": updated},
    creates=frozenset({"event.scheduled"}),
)
