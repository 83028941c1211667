"""Who booked, who waits and who rated each event, and the counters the listing reads: events per
tag and per status, and every organizer's ratings.

These are the children of the `events` read model: effects of its messages, written in
the same transaction as the event's row, so the row's version keeps them exactly-once.
"""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from projections.folding import Add, ChildWrite, Effect, Put, Remove, Row
from shared.domain.event import DIRECT, WAITLIST
from shared.integration.envelope import Envelope
from shared.read_model.schema import (
    DELETED_STATUS,
    bookings,
    event_counts,
    organizer_ratings,
    ratings,
    tags,
    waitlist,
)
from shared.read_model.text import fold_text


def booked(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    data = envelope.data
    user_id = envelope.uuid("user_id")
    booking = Put(
        bookings.name,
        {
            "event_id": envelope.aggregate_id,
            "user_id": user_id,
            "booking_id": envelope.uuid("booking_id"),
            "booked_at": envelope.occurred_at,
        },
    )
    if data.get("source", DIRECT) != WAITLIST:
        return [booking]
    return [booking, _out_of_line(envelope.aggregate_id, user_id)]


def joined_waitlist(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    values = {
        "event_id": envelope.aggregate_id,
        "user_id": envelope.uuid("user_id"),
        "joined_version": envelope.version,
        "joined_at": envelope.occurred_at,
    }
    return [Put(waitlist.name, values)]


def left_waitlist(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    return [_out_of_line(envelope.aggregate_id, envelope.uuid("user_id"))]


def waitlist_closed(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    return [_out_of_line(envelope.aggregate_id, UUID(u)) for u in envelope.data["user_ids"]]


def _out_of_line(event_id: UUID, user_id: UUID) -> Remove:
    return Remove(waitlist.name, {"event_id": event_id, "user_id": user_id})


def booking_cancelled(
    envelope: Envelope, before: Row | None, after: Row | None
) -> list[ChildWrite]:
    key = {"event_id": envelope.aggregate_id, "user_id": envelope.uuid("user_id")}
    return [Remove(bookings.name, key)]


def rated(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    values = {
        "event_id": envelope.aggregate_id,
        "user_id": envelope.uuid("user_id"),
        "score": int(envelope.data["score"]),
        "rated_at": envelope.occurred_at,
    }
    return [Put(ratings.name, values)]


def tag_created(envelope: Envelope, before: Row | None, after: Row | None) -> list[ChildWrite]:
    # Redelivered, it adds nothing: a tag's messages have no row to tell duplicates by.
    return _tag_counts(Counter({envelope.data["name"]: 0}))


def summary_changes(before: Row | None, after: Row) -> list[ChildWrite]:
    """Move the counters the listing reads (tags, statuses, organizers' ratings) by how a
    row changed, whichever message changed it. A deleted event counts nowhere.

    Each kind of counter is worked out only when what it is made of changed: most
    messages (bookings) change none of them, ratings only the organizer's."""
    if (
        before is not None
        and before["status"] == after["status"]
        and before["tags"] == after["tags"]
    ):
        if (before["rating_sum"], before["rating_count"]) == (
            after["rating_sum"],
            after["rating_count"],
        ):
            return []
        return _organizer_rating_change(_counted(before), _counted(after))
    was, now = _counted(before), _counted(after)
    tag_counts = _counted_tags(now)
    tag_counts.subtract(_counted_tags(was))
    statuses = Counter([now["status"]] if now else [])
    statuses.subtract([was["status"]] if was else [])
    return [
        *_tag_counts(Counter({name: n for name, n in tag_counts.items() if n})),
        *(
            Add(event_counts.name, {"status": status}, {"events": n})
            for status, n in statuses.items()
            if n
        ),
        *_organizer_rating_change(was, now),
    ]


def _counted(row: Row | None) -> Row | None:
    return None if row is None or row["status"] == DELETED_STATUS else row


def _counted_tags(row: Row | None) -> Counter[str]:
    return Counter(row["tags"] if row else [])


def _tag_counts(counts: Counter[str]) -> list[ChildWrite]:
    # A tag is keyed by its folded name; an event uses the tag's own spelling.
    return [
        Add(tags.name, {"name_folded": fold_text(name)}, {"events_count": n}, {"name": name})
        for name, n in counts.items()
    ]


def _organizer_rating_change(was: Row | None, now: Row | None) -> list[ChildWrite]:
    if was is not None and now is not None and was["organizer_id"] == now["organizer_id"]:
        # The usual case, in one step: the same organizer, their sums moved or not.
        moved = {
            name: now[name] - was[name]
            for name in ("rating_sum", "rating_count")
            if now[name] != was[name]
        }
        if not moved:
            return []
        amounts = {"rating_sum": 0, "rating_count": 0, **moved}
        return [Add(organizer_ratings.name, {"organizer_id": now["organizer_id"]}, amounts)]
    changes: Counter[tuple[UUID, str]] = Counter()
    for row, sign in ((now, 1), (was, -1)):
        if row is not None:
            changes[(row["organizer_id"], "rating_sum")] += sign * row["rating_sum"]
            changes[(row["organizer_id"], "rating_count")] += sign * row["rating_count"]
    organizers = {organizer for organizer, _ in changes}
    return [
        Add(
            organizer_ratings.name,
            {"organizer_id": organizer},
            {c: changes[(organizer, c)] for c in ("rating_sum", "rating_count")},
        )
        for organizer in organizers
        if changes[(organizer, "rating_sum")] or changes[(organizer, "rating_count")]
    ]


PARTICIPATION_EFFECTS: dict[str, Effect] = {
    "booking.created": booked,
    "booking.cancelled": booking_cancelled,
    "rating.set": rated,
    "tag.created": tag_created,
    "waitlist.joined": joined_waitlist,
    "waitlist.left": left_waitlist,
    "waitlist.closed": waitlist_closed,
}
PARTICIPATION_TABLES = (bookings, waitlist, ratings, tags, event_counts, organizer_ratings)
