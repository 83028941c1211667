"""Read-model queries of users, returning plain data in the API's shape."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.read_model.schema import users

_PROFILE_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.is_staff,
    users.c.date_joined,
)


async def user_profile(conn: AsyncConnection, user_id: UUID) -> dict[str, Any] | None:
    row = (await conn.execute(select(*_PROFILE_COLUMNS).where(users.c.id == user_id))).first()
    return None if row is None else dict(row._mapping)
