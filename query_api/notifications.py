"""Read endpoints of notifications: the caller's own, once the notifier has caught up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from query_api.deps import Pagination, ReadConnection, fresh_read_of
from query_api.notification_stream import (
    EventStreamResponse,
    NotificationStream,
    StreamHub,
    last_event_id,
)
from query_api.pagination import Page
from query_api.read_router import NO_TOKEN, READ_FAILED, read_router
from shared.http.auth import CurrentUser, access_store, app_settings
from shared.http.notifications import NotificationId, NotificationOut
from shared.integration.names import NOTIFIER_PROJECTION
from shared.notifications import NotificationNotFound
from shared.read_model.views import notifications as views

router = read_router(
    "/api/notifications",
    "notifications",
    token_required=True,
    projection=NOTIFIER_PROJECTION,
    not_found="Не найдено",
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


# Its answer is an event stream, but its errors are JSON like everywhere: documented by hand,
# since a response `model` would take the stream's media type. Included before `router`,
# whose `/{notification_id}/` would take `stream` for an id.
stream_router = APIRouter(
    prefix="/api/notifications",
    tags=["notifications"],
    dependencies=[Depends(fresh_read_of(NOTIFIER_PROJECTION))],
)


def _json_error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@stream_router.get(
    "/stream/",
    summary="Новые уведомления по мере появления (server-sent events)",
    response_class=EventStreamResponse,
    status_code=200,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`id:` — id уведомления, `event: notification`, `data:` — уведомление"
            " (JSON, как GET /api/notifications/{id}/); комментарий `: ping` каждые 15 с",
        },
        401: _json_error(NO_TOKEN),
        503: _json_error(READ_FAILED),
    },
)
async def notification_stream(
    request: Request,
    caller: CurrentUser,
    last_seen: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Продолжить после этого уведомления (пропущенные придут первыми)",
        ),
    ] = None,
) -> EventStreamResponse:
    engine: AsyncEngine = request.app.state.engine
    hub: StreamHub = request.app.state.stream_hub
    stream = await NotificationStream.open(
        engine,
        hub,
        access_store(request),
        caller.id,
        last_event_id(last_seen),
        app_settings(request).stream_heartbeat_seconds,
    )
    return EventStreamResponse(stream)
