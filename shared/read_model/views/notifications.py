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


async def last_seq(conn: AsyncConnection, user_id: UUID) -> int:
    """Where the user's notifications stand now: a stream from here sends only new ones."""
    query = select(func.max(notifications.c.seq)).where(notifications.c.user_id == user_id)
    return int(await conn.scalar(query) or 0)


async def seq_of(conn: AsyncConnection, user_id: UUID, notification_id: UUID) -> int | None:
    """The place of the user's notification in the order they became visible."""
    query = select(notifications.c.seq).where(
        notifications.c.id == notification_id, notifications.c.user_id == user_id
    )
    seq = await conn.scalar(query)
    return None if seq is None else int(seq)


async def notifications_after(
    conn: AsyncConnection, user_id: UUID, seq: int, *, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """The user's notifications that became visible after `seq`, in that order."""
    query = (
        _with_read_marks(_SHOWN.add_columns(notifications.c.seq))
        .where(*_owned(user_id, None), notifications.c.seq > seq)
        .order_by(notifications.c.seq)
        .limit(limit)
    )
    shown = []
    for row in await conn.execute(query):
        item = _shown(row)
        shown.append((int(item.pop("seq")), item))
    return shown
