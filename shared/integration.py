"""The public, versioned contract downstream of the write side: integration events.

One mapper turns a stored domain event into its integration event; the outbox,
replay and republish all use it, so they cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import DomainEventProtocol

from shared.domain.event import Event
from shared.domain.tag import Tag
from shared.domain.user import EmailClaim, User
from shared.settings import EVENTS_STREAM, USERS_STREAM

SCHEMA_VERSION = 1
# Every domain event records `occurred_at` from the board's clock; it becomes the envelope's.
_BOOKKEEPING_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "occurred_at"}
)

# Secrets stay in the event store; they never travel downstream.
_PRIVATE_FIELDS = frozenset({"password_hash"})


@dataclass(frozen=True)
class Route:
    aggregate_type: str
    public_type: str
    stream: str


# The public type of each domain event. Renaming a domain event class must not change these.
PUBLIC_TYPES: dict[type[Any], Route] = {
    Event.Scheduled: Route("event", "event.scheduled", EVENTS_STREAM),
    Event.Updated: Route("event", "event.updated", EVENTS_STREAM),
    Event.Cancelled: Route("event", "event.cancelled", EVENTS_STREAM),
    Event.Finished: Route("event", "event.finished", EVENTS_STREAM),
    Event.Deleted: Route("event", "event.deleted", EVENTS_STREAM),
    Event.SeatBooked: Route("event", "booking.created", EVENTS_STREAM),
    Event.BookingCancelled: Route("event", "booking.cancelled", EVENTS_STREAM),
    Event.Rated: Route("event", "rating.set", EVENTS_STREAM),
    Tag.Created: Route("tag", "tag.created", EVENTS_STREAM),
    User.Registered: Route("user", "user.registered", USERS_STREAM),
    User.PasswordChanged: Route("user", "user.password_changed", USERS_STREAM),
    User.StaffGranted: Route("user", "user.staff_granted", USERS_STREAM),
    User.StaffRevoked: Route("user", "user.staff_revoked", USERS_STREAM),
    User.Deactivated: Route("user", "user.deactivated", USERS_STREAM),
}
# Domain events that only keep the write side consistent; nothing downstream needs them.
INTERNAL_TYPES: frozenset[type[Any]] = frozenset({EmailClaim.Claimed})


@dataclass(frozen=True)
class IntegrationEvent:
    """An integration event before the event store has given it a position."""

    id: UUID
    type: str
    aggregate_type: str
    aggregate_id: UUID
    version: int
    occurred_at: datetime
    data: dict[str, Any]
    stream: str
    key: str

    def to_message(self, position: int) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "schema": SCHEMA_VERSION,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": str(self.aggregate_id),
            "version": self.version,
            "position": position,
            "occurred_at": format_datetime(self.occurred_at),
            "data": self.data,
        }


def format_datetime(moment: datetime) -> str:
    """UTC with a `Z`, as the API returns it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    return value


def domain_event_id(aggregate_id: UUID, version: int) -> UUID:
    """A stable id for a stored domain event, so a republish carries the same id."""
    return uuid5(NAMESPACE_URL, f"eventboard:{aggregate_id}:{version}")


def to_integration_event(domain_event: DomainEventProtocol[Any]) -> IntegrationEvent | None:
    """The integration event of a stored domain event, or None for an internal one."""
    if type(domain_event) in INTERNAL_TYPES:
        return None
    try:
        route = PUBLIC_TYPES[type(domain_event)]
    except KeyError:
        raise TypeError(f"{type(domain_event).__qualname__} has no public type") from None
    fields = vars(domain_event)
    data = {
        k: to_json_value(v)
        for k, v in fields.items()
        if k not in _BOOKKEEPING_FIELDS and k not in _PRIVATE_FIELDS
    }
    aggregate_id = domain_event.originator_id
    occurred_at: datetime = fields["occurred_at"]
    return IntegrationEvent(
        id=domain_event_id(aggregate_id, domain_event.originator_version),
        type=route.public_type,
        aggregate_type=route.aggregate_type,
        aggregate_id=aggregate_id,
        version=domain_event.originator_version,
        occurred_at=occurred_at,
        data=data,
        stream=route.stream,
        key=str(aggregate_id),
    )


def encode_message(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
