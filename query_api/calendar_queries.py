"""Read-model queries of the calendar: one event's entry, a user's feed and its version."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import BindParameter, RowMapping, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from query_api.calendar_entries import ENTRY_COLUMNS
from shared.read_model.schema import DELETED_STATUS, bookings, events

_ENTRY = [events.c[name] for name in ENTRY_COLUMNS]
_USER: BindParameter[UUID] = bindparam("user_id")
_BOOKED = bookings.join(events, events.c.id == bookings.c.event_id)
_OF_USER = (bookings.c.user_id == _USER, events.c.status != DELETED_STATUS)

_EVENT_ENTRY = select(*_ENTRY).where(
    events.c.id == bindparam("event_id"), events.c.status != DELETED_STATUS
)
# A version of a feed's content: every change to a booked event or to the bookings moves some
# event's row to a new, higher position, so (count, highest position) of the booked rows
# changes whenever what the feed shows does.
_FEED_VERSION = (
    select(func.count(), func.coalesce(func.max(events.c.position), 0))
    .select_from(_BOOKED)
    .where(*_OF_USER)
)
_FEED_ENTRIES = (
    select(*_ENTRY).select_from(_BOOKED).where(*_OF_USER).order_by(events.c.start_time, events.c.id)
)


async def event_entry(conn: AsyncConnection, event_id: UUID) -> RowMapping | None:
    return (await conn.execute(_EVENT_ENTRY, {"event_id": event_id})).mappings().first()


async def feed_version(conn: AsyncConnection, user_id: UUID) -> tuple[int, int]:
    """The version of what the user's feed shows."""
    row = (await conn.execute(_FEED_VERSION, {"user_id": user_id})).one()
    return int(row[0]), int(row[1])


async def feed_entries(conn: AsyncConnection, user_id: UUID) -> Sequence[RowMapping]:
    """The events the user holds an active booking of (not deleted ones), soonest first."""
    return (await conn.execute(_FEED_ENTRIES, {"user_id": user_id})).mappings().all()
