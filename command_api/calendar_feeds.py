"""Rotating a user's calendar feed URL: the users' own state, owned by the command API.

Like a read mark it is no domain event and no projection writes it: the command API
raises the user's generation in `calendar_feeds`, and every token of an earlier
generation stops verifying with that commit.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.http.auth import CurrentUser
from shared.http.calendar_feeds import CalendarFeed, feed_answer
from shared.http.errors import ErrorBody
from shared.read_model.schema import calendar_feeds

router = APIRouter(
    prefix="/api/users/me/calendar",
    tags=["calendar"],
    responses={
        401: {"model": ErrorBody, "description": "Нет токена или токен недействителен"},
        503: {"model": ErrorBody, "description": "База данных недоступна"},
    },
)


async def rotate(conn: AsyncConnection, user_id: UUID) -> int:
    """Raise the user's feed generation; return the new one."""
    upsert = insert(calendar_feeds).values(user_id=user_id, generation=1)
    generation = await conn.scalar(
        upsert.on_conflict_do_update(
            index_elements=[calendar_feeds.c.user_id],
            set_={"generation": calendar_feeds.c.generation + 1},
        ).returning(calendar_feeds.c.generation)
    )
    return int(generation or 0)


@router.post(
    "/rotate/",
    summary="Заменить адрес моей ленты (старый перестаёт работать)",
    response_model=CalendarFeed,
)
async def rotate_calendar(request: Request, caller: CurrentUser) -> dict[str, Any]:
    engine: AsyncEngine = request.app.state.engine
    async with engine.begin() as conn:
        generation = await rotate(conn, caller.id)
    return feed_answer(request, caller.id, generation)
