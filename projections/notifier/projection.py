"""The notifier's own view of events, participants and users, and the notifications their
messages cause.

A booking or its cancellation notifies its user through an effect, in the transaction that
moves the event's row on, so a redelivered message notifies no one again. A cancellation,
deletion or change of place or time is a notice to every participant: the effect records
it in `notifier_fanouts`, and `apply_notifier_batch` expands it to the participants of that
moment in the same transaction (see `projections/fanout.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.folding import ChildWrite, Effect, Projection, Put, Remove, Row, setting
from projections.notifier import texts
from projections.notifier.notification_store import NewNotification
from projections.notifier.texts import EventFacts
from shared.domain.event import CANCELLED, DIRECT, FINISHED, UPCOMING, WAITLIST
from shared.integration.envelope import Envelope, as_uuid
from shared.integration.names import (
    EVENTS_STREAM,
    NOTIFIER_PROJECTION,
    NOTIFIER_USERS_PROJECTION,
    USERS_STREAM,
)
from shared.notifications import (
    BOOKING,
    CANCEL,
    EVENT_CANCELLED,
    EVENT_CHANGED,
    WAITLIST_CLOSED,
    WAITLIST_PROMOTED,
    NotificationType,
    caused_key,
)
from shared.read_model.schema import (
    DELETED_STATUS,
    notification_deliveries,
    notifications,
    notifier_events,
    notifier_fanouts,
    notifier_participants,
    notifier_users,
)

# The fields of an event that a notification tells; a change of place or time is announced.
_TOLD_FIELDS = ("title", "location", "start_time", "timezone")
ANNOUNCED_CHANGES = frozenset({"location", "start_time"})


def scheduled(envelope: Envelope, row: Row | None) -> Row:
    data = envelope.data
    return {
        "id": envelope.aggregate_id,
        "title": data["title"],
        "location": data["location"],
        "start_time": datetime.fromisoformat(data["start_time"]),
        "timezone": data["timezone"],
        "status": UPCOMING,
        "start_time_set_at": envelope.occurred_at,
    }


def updated(envelope: Envelope, row: Row | None) -> Row:
    if row is None:
        raise ValueError("a change needs the row it changes")
    changes: Mapping[str, Any] = envelope.data["changes"]
    changed = {**row, **{name: changes[name] for name in _TOLD_FIELDS if name in changes}}
    if "start_time" in changes:
        changed["start_time"] = datetime.fromisoformat(changes["start_time"])
        changed["start_time_set_at"] = envelope.occurred_at
    return changed


def _notice(
    envelope: Envelope, user_id: UUID, type_: NotificationType, message: str
) -> NewNotification:
    return NewNotification(
        key=caused_key(envelope.id, user_id, type_),
        user_id=user_id,
        type=type_,
        event_id=envelope.aggregate_id,
        message=message,
        created_at=envelope.occurred_at,
    )


def _notify(notice: NewNotification) -> list[ChildWrite]:
    return [
        Put(notifications.name, notice.values()),
        Put(notification_deliveries.name, notice.delivery()),
    ]


def _existing(row: Row | None) -> Row:
    if row is None:
        raise ValueError("a booking needs its event's row")
    return row


def booked(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    user_id = envelope.uuid("user_id")
    participant = {
        "event_id": envelope.aggregate_id,
        "user_id": user_id,
        "booking_id": envelope.uuid("booking_id"),
        "booked_at": envelope.occurred_at,
        "reminded_for": None,
    }
    facts = EventFacts.of(_existing(after))
    # A seat given to the first in line is told as such, instead of the usual notice.
    if envelope.data.get("source", DIRECT) == WAITLIST:
        notice = _notice(envelope, user_id, WAITLIST_PROMOTED, texts.promoted(facts))
    else:
        notice = _notice(envelope, user_id, BOOKING, texts.booked(facts))
    return [Put(notifier_participants.name, participant), *_notify(notice)]


def booking_cancelled(
    envelope: Envelope, before: Row | None, after: Row | None
) -> list[ChildWrite]:
    user_id = envelope.uuid("user_id")
    message = texts.booking_cancelled(EventFacts.of(_existing(after)))
    return [
        Remove(notifier_participants.name, {"event_id": envelope.aggregate_id, "user_id": user_id}),
        *_notify(_notice(envelope, user_id, CANCEL, message)),
    ]


def waitlist_closed(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    message = texts.waitlist_closed(EventFacts.of(_existing(after)))
    return [
        write
        for user_id in envelope.data["user_ids"]
        for write in _notify(_notice(envelope, as_uuid(user_id), WAITLIST_CLOSED, message))
    ]


def _fanout(envelope: Envelope, type_: NotificationType, message: str) -> list[ChildWrite]:
    values = {
        "cause_id": envelope.id,
        "event_id": envelope.aggregate_id,
        "type": type_,
        "message": message,
        "created_at": envelope.occurred_at,
    }
    return [Put(notifier_fanouts.name, values)]


def cancelled(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    return _fanout(
        envelope, EVENT_CANCELLED, texts.event_cancelled(EventFacts.of(_existing(after)))
    )


def deleted(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    # Deleting a cancelled or finished event tells its participants nothing new.
    if before is None or before["status"] != UPCOMING:
        return []
    return cancelled(envelope, before, after)


def changed(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    changes: Mapping[str, Any] = envelope.data["changes"]
    if not ANNOUNCED_CHANGES & changes.keys():
        return []
    previous: Mapping[str, Any] = envelope.data.get("previous", {})
    message = texts.event_changed(EventFacts.of(_existing(after)), previous)
    return _fanout(envelope, EVENT_CHANGED, message)


NOTIFIER_EFFECTS: dict[str, Effect] = {
    "booking.created": booked,
    "booking.cancelled": booking_cancelled,
    "event.cancelled": cancelled,
    "event.deleted": deleted,
    "event.updated": changed,
    "waitlist.closed": waitlist_closed,
}

NOTIFIER = Projection(
    name=NOTIFIER_PROJECTION,
    table=notifier_events,
    streams=(EVENTS_STREAM,),
    handlers={
        "event.scheduled": scheduled,
        "event.updated": updated,
        "event.cancelled": setting(status=CANCELLED),
        "event.finished": setting(status=FINISHED),
        "event.deleted": setting(status=DELETED_STATUS),
    },
    creates=frozenset({"event.scheduled"}),
    children=(
        notifier_participants,
        notifier_fanouts,
        notifications,
        notification_deliveries,
    ),
    effects=NOTIFIER_EFFECTS,
)


def registered(envelope: Envelope, row: Row | None) -> Row:
    return {
        "id": envelope.aggregate_id,
        "username": envelope.data["username"],
        "email": envelope.data["email"],
    }


NOTIFIER_USERS = Projection(
    name=NOTIFIER_USERS_PROJECTION,
    table=notifier_users,
    streams=(USERS_STREAM,),
    handlers={"user.registered": registered},
    creates=frozenset({"user.registered"}),
    # Addresses for deliveries: no read waits for them.
    awaited=False,
)
