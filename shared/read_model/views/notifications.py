"""Read-model queries of a user's notifications, in the API's shape, with their read marks.

Both APIs use them: the query API lists and shows notifications, the command API answers
a read mark with the notification as it is then.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.notifications import TYPE_DISPLAY
from shared.read_model.schema import notification_reads, notifications

_READ = notification_reads.c.notification_id.is_not(None)


def _owned(user_id: UUID, unread: bool | None) -> list[ColumnElement[bool]]:
    conditions = [notifications.c.user_id == user_id]
    if unread is not None:
        conditions.append(~_READ if unread else _READ)
    return conditions


def _with_read_marks(query: Select[Any]) -> Select[Any]:
    return query.select_from(
        notifications.outerjoin(
            notification_reads, notification_reads.c.notification_id == notifications.c.id
        )
    )


_SHOWN = select(
    notifications.c.id,
    notifications.c.type,
    notifications.c.message,
    notifications.c.event_id,
    notifications.c.created_at,
    _READ.label("read"),
)


def _shown(row: Any) -> dict[str, Any]:
    return {**row._mapping, "type_display": TYPE_DISPLAY[row.type]}


async def count_notifications(conn: AsyncConnection, user_id: UUID, unread: bool | None) -> int:
    query = _with_read_marks(select(func.count())).where(*_owned(user_id, unread))
    return int(await conn.scalar(query) or 0)


async def list_notifications(
    conn: AsyncConnection, user_id: UUID, unread: bool | None, *, offset: int, limit: int
) -> list[dict[str, Any]]:
    """The user's notifications, newest first."""
    query = (
        _with_read_marks(_SHOWN)
        .where(*_owned(user_id, unread))
        .order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [_shown(row) for row in await conn.execute(query)]


async def notification_of(
    conn: AsyncConnection, user_id: UUID, notification_id: UUID
) -> dict[str, Any] | None:
    """The notification, if it is the user's."""
    query = _with_read_marks(_SHOWN).where(
        notifications.c.id == notification_id, *_owned(user_id, None)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else _shown(row)
