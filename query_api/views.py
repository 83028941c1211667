"""Read-model queries that return plain data in the API's shape."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.event import UPCOMING
from shared.http.events import STATUS_DISPLAY
from shared.read_model.schema import events

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
    _c.avg_rating,
    _c.rating_count,
    _c.created_at,
    _c.updated_at,
)
_DETAIL_COLUMNS = (*_LIST_COLUMNS, _c.description)

_upcoming = events.c.status == UPCOMING
# Upcoming events first, soonest first; then the others, most recent first; the id last,
# so pages never overlap or skip.
DEFAULT_ORDER = (
    case((_upcoming, 0), else_=1),
    case((_upcoming, events.c.start_time)).asc(),
    events.c.start_time.desc(),
    events.c.avg_rating.desc().nulls_last(),
    events.c.id,
)


async def count_events(conn: AsyncConnection) -> int:
    count = await conn.scalar(select(func.count()).select_from(events))
    return int(count or 0)


async def list_events(conn: AsyncConnection, *, offset: int, limit: int) -> list[dict[str, Any]]:
    query = select(*_LIST_COLUMNS).order_by(*DEFAULT_ORDER).offset(offset).limit(limit)
    rows = (await conn.execute(query)).mappings()
    return [_list_item(row) for row in rows]


async def event_detail(conn: AsyncConnection, event_id: UUID) -> dict[str, Any] | None:
    query = select(*_DETAIL_COLUMNS).where(events.c.id == event_id)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    # Whether the caller booked or rated it comes with the bookings and ratings read models.
    return {
        **_list_item(row),
        "description": row["description"],
        "is_booked": False,
        "my_rating": None,
    }


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
        "free_seats": row["seats"] - row["booked_count"],
        "avg_rating": None if avg_rating is None else float(avg_rating),
        "rating_count": row["rating_count"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
