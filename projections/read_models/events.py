"""The `events` read model: one row per event on the board, as the query API lists it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from projections.folding import Handler, Projection, Row
from projections.read_models.participation import (
    PARTICIPATION_EFFECTS,
    PARTICIPATION_TABLES,
    summary_changes,
)
from shared.domain.event import (
    CANCELLED,
    DIRECT,
    EDITABLE_FIELDS,
    FINISHED,
    UPCOMING,
    WAITLIST,
    average_rating,
)
from shared.integration.envelope import Envelope
from shared.integration.names import EVENTS_PROJECTION, EVENTS_STREAM
from shared.read_model.schema import DELETED_STATUS, events
from shared.read_model.text import fold_text, joined_tags

# How an `event.updated` change travels in JSON → how the column holds it.
_COLUMN_VALUES: dict[str, Callable[[Any], Any]] = {
    "start_time": datetime.fromisoformat,
    "seats": int,
    "tags": list,
}


def columns(values: Mapping[str, Any], names: Iterable[str]) -> Row:
    """The event's fields as its columns hold them, from how they travel in JSON."""
    return {name: _COLUMN_VALUES.get(name, _same)(values[name]) for name in names}


# Beyond every start time in microseconds, so the events that are not upcoming come last.
_AFTER_UPCOMING = 2**62


def listing_key(status: str, start_time: datetime) -> int:
    """The default order as one number: upcoming soonest first, the rest most recent first."""
    micros = round(start_time.timestamp() * 1_000_000)
    return micros if status == UPCOMING else _AFTER_UPCOMING - micros


def matching_columns(row: Row) -> Row:
    """What the filters and the default order match, derived from the row's own values."""
    return {
        **row,
        **_matching(row["location"], tuple(row["tags"]), row["status"], row["start_time"]),
    }


@lru_cache(maxsize=4096)
def _matching(location: str, tags: tuple[str, ...], status: str, start_time: datetime) -> Row:
    # Most messages (bookings, ratings) leave these inputs as they were: computed once each.
    tags_folded = [fold_text(tag) for tag in tags]
    return {
        "location_folded": fold_text(location),
        "tags_folded": tags_folded,
        "tags_text": joined_tags(tags_folded),
        "listing_key": listing_key(status, start_time),
    }


def scheduled(envelope: Envelope, row: Row | None) -> Row:
    data = envelope.data
    return {
        "id": envelope.aggregate_id,
        **columns(data, EDITABLE_FIELDS),
        "booked_count": 0,
        "status": UPCOMING,
        "organizer_id": envelope.uuid("organizer_id"),
        "organizer_username": data["organizer_username"],
        "rating_sum": 0,
        "rating_count": 0,
        "avg_rating": None,
        "waitlist_length": 0,
        "created_at": envelope.occurred_at,
        "updated_at": envelope.occurred_at,
        "calendar_sequence": 0,
    }


def updated(envelope: Envelope, row: Row | None) -> Row:
    changes: dict[str, Any] = envelope.data["changes"]
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"fields that cannot change: {sorted(unknown)}")
    current = _existing(row)
    changed = {**current, **columns(changes, changes)}
    changed["updated_at"] = envelope.occurred_at
    changed["calendar_sequence"] = current["calendar_sequence"] + 1
    return changed


def _same(value: Any) -> Any:
    return value


def _existing(row: Row | None) -> Row:
    if row is None:
        raise ValueError("a change needs the row it changes")
    return row


def _status_becomes(status: str) -> Handler:
    def handle(envelope: Envelope, row: Row | None) -> Row:
        return {**_existing(row), "status": status, "updated_at": envelope.occurred_at}

    return handle


def cancelled(envelope: Envelope, row: Row | None) -> Row:
    # Calendar apps show a cancellation only from an entry of a higher `SEQUENCE`.
    current = _status_becomes(CANCELLED)(envelope, row)
    return {**current, "calendar_sequence": current["calendar_sequence"] + 1}


def _bookings_change_by(delta: int) -> Handler:
    def handle(_envelope: Envelope, row: Row | None) -> Row:
        current = _existing(row)
        return {**current, "booked_count": current["booked_count"] + delta}

    return handle


def booked(envelope: Envelope, row: Row | None) -> Row:
    """A booking; one made for the first in line also shortens the line."""
    current = _existing(row)
    promoted = envelope.data.get("source", DIRECT) == WAITLIST
    return {
        **current,
        "booked_count": current["booked_count"] + 1,
        "waitlist_length": current["waitlist_length"] - promoted,
    }


def _waitlist_changes_by(delta: int) -> Handler:
    def handle(_envelope: Envelope, row: Row | None) -> Row:
        current = _existing(row)
        return {**current, "waitlist_length": current["waitlist_length"] + delta}

    return handle


def waitlist_closed(_envelope: Envelope, row: Row | None) -> Row:
    return {**_existing(row), "waitlist_length": 0}


def rating_set(envelope: Envelope, row: Row | None) -> Row:
    """A participant's score, replacing their earlier one (`previous_score`) if any."""
    current = _existing(row)
    previous: int | None = envelope.data["previous_score"]
    score_sum = current["rating_sum"] + int(envelope.data["score"]) - (previous or 0)
    count = current["rating_count"] + (previous is None)
    return {
        **current,
        "rating_sum": score_sum,
        "rating_count": count,
        "avg_rating": average_rating(score_sum, count),
    }


EVENTS = Projection(
    name=EVENTS_PROJECTION,
    table=events,
    streams=(EVENTS_STREAM,),
    handlers={
        "event.scheduled": scheduled,
        "event.updated": updated,
        "event.cancelled": cancelled,
        "event.finished": _status_becomes(FINISHED),
        # The row stays (a redelivered `event.scheduled` must not bring it back); reads skip it.
        "event.deleted": _status_becomes(DELETED_STATUS),
        "booking.created": booked,
        "booking.cancelled": _bookings_change_by(-1),
        "rating.set": rating_set,
        "waitlist.joined": _waitlist_changes_by(1),
        "waitlist.left": _waitlist_changes_by(-1),
        "waitlist.closed": waitlist_closed,
    },
    creates=frozenset({"event.scheduled"}),
    children=PARTICIPATION_TABLES,
    effects=PARTICIPATION_EFFECTS,
    derive=matching_columns,
    on_change=summary_changes,
)
