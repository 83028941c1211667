"""Read endpoints of notifications: the caller's own, once the notifier has caught up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from query_api.deps import Pagination, ReadConnection, fresh_read_of
from query_api.pagination import Page
from shared.http.auth import CurrentUser, current_caller
from shared.http.errors import ErrorBody
from shared.http.notifications import NotificationId, NotificationOut
from shared.integration.names import NOTIFIER_PROJECTION
from shared.notifications import NotificationNotFound
from shared.read_model.views import notifications as views

router = APIRouter(
    prefix="/api/notifications",
    tags=["notifications"],
    # Who calls is settled first: a bad or missing token is answered 401 at once, before
    # any wait for the position the request asks for.
    dependencies=[Depends(current_caller), Depends(fresh_read_of(NOTIFIER_PROJECTION))],
    responses={
        401: {"model": ErrorBody, "description": "Нет токена или токен недействителен"},
        404: {"model": ErrorBody, "description": "Не найдено"},
        503: {"model": ErrorBody, "description": "Чтение отстаёт или база недоступна"},
    },
)


@router.get("/", summary="Мои уведомления, новые первыми", response_model=Page[NotificationOut])
async def list_notifications(
    request: Request,
    caller: CurrentUser,
    pages: Pagination,
    conn: ReadConnection,
    unread: Annotated[
        bool | None, Query(description="true — только непрочитанные, false — прочитанные")
    ] = None,
) -> dict[str, Any]:
    return await pages.answer(
        request,
        await views.count_notifications(conn, caller.id, unread),
        lambda: views.list_notifications(
            conn, caller.id, unread, offset=pages.offset, limit=pages.size
        ),
    )


@router.get("/{notification_id}/", summary="Уведомление", response_model=NotificationOut)
async def get_notification(
    notification_id: NotificationId, caller: CurrentUser, conn: ReadConnection
) -> dict[str, Any]:
    found = await views.notification_of(conn, caller.id, notification_id)
    if found is None:
        raise NotificationNotFound
    return found
