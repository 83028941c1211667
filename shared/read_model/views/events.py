"""Read-model queries that return plain data in the API's shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    RowMapping,
    Select,
    Uuid,
    bindparam,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.domain.event import UPCOMING
from shared.http.events import STATUS_DISPLAY
from shared.read_model.schema import (
    DELETED_STATUS,
    bookings,
    event_counts,
    events,
    ratings,
    tags,
    waitlist,
)

_c = events.c
_LIST_COLUMNS = (
    _c.id,
    _c.title,
    _c.start_time,
    _c.timezone,
    _c.location,
    _c.seats,
    _c.status,
    _c.organizer_id,
    _c.organizer_username,
    _c.tags,
    _c.booked_count,
    _c.free_seats,
    _c.avg_rating,
    _c.rating_count,
    _c.created_at,
    _c.updated_at,
    _c.waitlist_length,
)
_DETAIL_COLUMNS = (*_LIST_COLUMNS, _c.description)
# A deleted event's row stays in the read model, out of sight.
_NOT_DELETED = _c.status != DELETED_STATUS


# Built once: composing a statement costs a listing more Python than running it.
# The projection keeps the number of events per status: no rows to count.
_COUNT_ALL = select(func.coalesce(func.sum(event_counts.c.events), 0))
_COUNT_MATCHING = select(func.count()).select_from(events).where(_NOT_DELETED)
_PAGE = select(*_LIST_COLUMNS).where(_NOT_DELETED)


def count_query(conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """How many events match (also what the listing benchmark explains)."""
    return _COUNT_MATCHING.where(*conditions) if conditions else _COUNT_ALL


async def count_events(engine: AsyncEngine, query: Select[Any]) -> int:
    """How many events match (`count_query`), on a connection of its own (the count may
    serve others)."""
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


def list_query(
    conditions: Sequence[ColumnElement[bool]],
    order: Sequence[ColumnElement[Any]],
    *,
    offset: int,
    limit: int,
) -> Select[Any]:
    """The query of one page of the listing (also what the listing benchmark explains)."""
    return _PAGE.where(*conditions).order_by(*order).offset(offset).limit(limit)


async def list_events(engine: AsyncEngine, query: Select[Any]) -> list[dict[str, Any]]:
    """One page (`list_query`), on a connection taken only now: a request never holds two
    at once."""
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_list_item(row) for row in rows]


def _waitlist_position(viewer: ColumnElement[Any]) -> ColumnElement[Any]:
    """The viewer's place in the event's line (1 is next), or null when not in it."""
    mine = waitlist.alias("mine")
    joined = (
        select(mine.c.joined_version)
        .where(mine.c.event_id == _c.id, mine.c.user_id == viewer)
        .scalar_subquery()
    )
    ahead_and_self = (
        select(func.count())
        .select_from(waitlist)
        .where(waitlist.c.event_id == _c.id, waitlist.c.joined_version <= joined)
        .scalar_subquery()
    )
    return func.nullif(ahead_and_self, 0)


def _detail_query(signed_in: bool) -> Select[Any]:
    """The detail of `:event_id`, as seen by `:viewer_id` when `signed_in`: built once, as
    building and keying the statement on every request cost more than running it."""
    viewer = bindparam("viewer_id", type_=Uuid)
    if signed_in:
        of_viewer = (bookings.c.event_id == _c.id) & (bookings.c.user_id == viewer)
        is_booked: ColumnElement[Any] = exists().where(of_viewer)
        my_rating: ColumnElement[Any] = (
            select(ratings.c.score)
            .where(ratings.c.event_id == _c.id, ratings.c.user_id == viewer)
            .scalar_subquery()
        )
        my_place = _waitlist_position(viewer)
    else:
        is_booked, my_rating = literal(False), literal(None, Integer)
        my_place = literal(None, Integer)
    return select(
        *_DETAIL_COLUMNS,
        is_booked.label("is_booked"),
        my_rating.label("my_rating"),
        my_place.label("my_waitlist_position"),
    ).where(_c.id == bindparam("event_id", type_=Uuid), _NOT_DELETED)


_DETAIL = {signed_in: _detail_query(signed_in) for signed_in in (False, True)}


async def event_detail(
    conn: AsyncConnection, event_id: UUID, viewer_id: UUID | None
) -> dict[str, Any] | None:
    """The detail, with whether `viewer_id` holds a booking and the score they gave."""
    query = _DETAIL[viewer_id is not None]
    params = {"event_id": event_id, "viewer_id": viewer_id}
    row = (await conn.execute(query, params)).mappings().first()
    if row is None:
        return None
    return {
        **_list_item(row),
        "description": row["description"],
        "is_booked": row["is_booked"],
        "my_rating": row["my_rating"],
        "my_waitlist_position": row["my_waitlist_position"],
    }


async def upcoming_events_of(
    conn: AsyncConnection, user_id: UUID, now: datetime
) -> list[dict[str, Any]]:
    """The user's booked events that are upcoming and start after `now`, soonest first."""
    query = (
        select(*_LIST_COLUMNS)
        .join(bookings, bookings.c.event_id == _c.id)
        .where(bookings.c.user_id == user_id, _c.status == UPCOMING, _c.start_time > now)
        .order_by(_c.start_time, _c.id)
    )
    rows = (await conn.execute(query)).mappings()
    return [_list_item(row) for row in rows]


async def count_tags(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(tags)) or 0)


async def list_tags(conn: AsyncConnection, *, offset: int, limit: int) -> list[dict[str, Any]]:
    query = (
        select(tags.c.name, tags.c.events_count)
        .order_by(tags.c.events_count.desc(), tags.c.name_folded)
        .offset(offset)
        .limit(limit)
    )
    return [dict(row) for row in (await conn.execute(query)).mappings()]


def _list_item(row: RowMapping) -> dict[str, Any]:
    avg_rating = row["avg_rating"]
    return {
        "id": row["id"],
        "title": row["title"],
        "start_time": row["start_time"],
        "timezone": row["timezone"],
        "location": row["location"],
        "seats": row["seats"],
        "status": row["status"],
        "status_display": STATUS_DISPLAY[row["status"]],
        "organizer": {"id": row["organizer_id"], "username": row["organizer_username"]},
        "tags": row["tags"],
        "booked_count": row["booked_count"],
        "free_seats": row["free_seats"],
        "avg_rating": None if avg_rating is None else float(avg_rating),
        "rating_count": row["rating_count"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "waitlist_length": row["waitlist_length"],
    }
