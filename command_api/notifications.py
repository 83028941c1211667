"""Write endpoint of notifications: marking one read.

A read mark is the user's own state beside the notifications, not an event: it is written
straight to its table, so a rebuild of the notifier never loses it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from command_api.deps import BoardApp
from command_api.read_marks import mark_read as mark
from shared.http.auth import CurrentUser
from shared.http.errors import ErrorBody
from shared.http.notifications import NotificationId, NotificationOut
from shared.notifications import NotificationNotFound

router = APIRouter(
    prefix="/api/notifications",
    tags=["notifications"],
    responses={
        401: {"model": ErrorBody, "description": "Нет токена или токен недействителен"},
        404: {"model": ErrorBody, "description": "Уведомление не найдено"},
        503: {"model": ErrorBody, "description": "База данных недоступна"},
    },
)


@router.post(
    "/{notification_id}/read/",
    summary="Отметить уведомление прочитанным",
    response_model=NotificationOut,
)
async def mark_read(
    request: Request,
    notification_id: NotificationId,
    caller: CurrentUser,
    board: BoardApp,
) -> dict[str, Any]:
    engine: AsyncEngine = request.app.state.engine
    async with engine.begin() as conn:
        marked = await mark(conn, caller.id, notification_id, board.clock.now())
    if marked is None:
        raise NotificationNotFound
    return marked
