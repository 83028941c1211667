"""Integration events: the public, versioned form of the domain events downstream sees.

One mapper turns a stored domain event into its integration event; the outbox, replay,
republish and an event's history all use it, so they cannot disagree. Each public type
names the fields it carries: a domain event may gain, rename or drop fields, and the
message changes only when its payload here says so (a renamed field fails every save of
that event until the payload is brought in line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import DomainEventProtocol

from shared.domain.event import Event
from shared.domain.tag import Tag
from shared.domain.user import EmailClaim, User
from shared.integration.envelope import SCHEMA_VERSION, format_datetime
from shared.integration.names import EVENTS_STREAM, USERS_STREAM

Payload = Callable[[Any], dict[str, Any]]


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


def fields(*names: str) -> Payload:
    """A payload of these fields of the domain event, as JSON values."""

    def payload(domain_event: Any) -> dict[str, Any]:
        return {name: to_json_value(getattr(domain_event, name)) for name in names}

    return payload


@dataclass(frozen=True)
class Route:
    aggregate_type: str
    public_type: str
    stream: str
    payload: Payload


def _event(public_type: str, payload: Payload) -> Route:
    return Route("event", public_type, EVENTS_STREAM, payload)


_NO_FIELDS = fields()


def _user(public_type: str, payload: Payload = _NO_FIELDS) -> Route:
    return Route("user", public_type, USERS_STREAM, payload)


# The public type and payload of each domain event. Renaming a domain event class must not
# change these; secrets (password hashes) stay in the event store.
PUBLIC_TYPES: dict[type[Any], Route] = {
    Event.Scheduled: _event(
        "event.scheduled",
        fields(
            "title",
            "description",
            "start_time",
            "timezone",
            "location",
            "seats",
            "tags",
            "organizer_id",
            "organizer_username",
        ),
    ),
    Event.Updated: _event("event.updated", fields("changes", "previous", "by_user_id")),
    Event.Cancelled: _event("event.cancelled", fields("by_user_id")),
    Event.Finished: _event("event.finished", fields("by_user_id")),
    Event.Deleted: _event("event.deleted", fields("by_user_id")),
    Event.SeatBooked: _event(
        "booking.created", fields("booking_id", "user_id", "username", "source")
    ),
    Event.BookingCancelled: _event("booking.cancelled", fields("booking_id", "user_id")),
    Event.WaitlistJoined: _event("waitlist.joined", fields("user_id", "username")),
    Event.WaitlistLeft: _event("waitlist.left", fields("user_id")),
    Event.WaitlistClosed: _event("waitlist.closed", fields("user_ids")),
    Event.Rated: _event("rating.set", fields("user_id", "score", "previous_score")),
    Tag.Created: Route("tag", "tag.created", EVENTS_STREAM, fields("name")),
    User.Registered: _user("user.registered", fields("username", "email", "is_staff")),
    User.PasswordChanged: _user("user.password_changed"),
    User.StaffGranted: _user("user.staff_granted", fields("by_user_id")),
    User.StaffRevoked: _user("user.staff_revoked", fields("by_user_id")),
    User.Deactivated: _user("user.deactivated", fields("by_user_id")),
    User.Reactivated: _user("user.reactivated", fields("by_user_id")),
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
    aggregate_id = domain_event.originator_id
    # Every domain event records `occurred_at` from the board's clock; it becomes the envelope's.
    occurred_at: datetime = getattr(domain_event, "occurred_at")  # noqa: B009
    return IntegrationEvent(
        id=domain_event_id(aggregate_id, domain_event.originator_version),
        type=route.public_type,
        aggregate_type=route.aggregate_type,
        aggregate_id=aggregate_id,
        version=domain_event.originator_version,
        occurred_at=occurred_at,
        data=route.payload(domain_event),
        stream=route.stream,
        key=str(aggregate_id),
    )
