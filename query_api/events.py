"""Read endpoints of events: read-model rows in, plain data out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from query_api import views
from query_api.deps import EventId, Pagination, ReadConnection, fresh_read_of
from query_api.pagination import Page
from query_api.watermarks import EVENTS_PROJECTION
from shared.domain.errors import EventNotFound
from shared.http.auth import optional_caller
from shared.http.errors import ErrorBody
from shared.http.events import EventDetail, EventListItem

router = APIRouter(
    prefix="/api/events",
    tags=["events"],
    # A bad token is refused before the read waits for the projection or takes a connection.
    dependencies=[Depends(optional_caller), Depends(fresh_read_of(EVENTS_PROJECTION))],
    responses={
        401: {"model": ErrorBody, "description": "Токен недействителен"},
        404: {"model": ErrorBody, "description": "Не найдено"},
        503: {"model": ErrorBody, "description": "Чтение отстаёт или база недоступна"},
    },
)


# The views return plain data; FastAPI checks it against the response model once.
@router.get("/", summary="Список мероприятий", response_model=Page[EventListItem])
async def list_events(request: Request, pages: Pagination, conn: ReadConnection) -> dict[str, Any]:
    count = await views.count_events(conn)
    pages.check_exists(count)
    results: list[dict[str, Any]] = (
        await views.list_events(conn, offset=pages.offset, limit=pages.size) if count else []
    )
    following, preceding = pages.links(request, count)
    return {"count": count, "next": following, "previous": preceding, "results": results}


@router.get("/{event_id}/", summary="Мероприятие", response_model=EventDetail)
async def get_event(event_id: EventId, conn: ReadConnection) -> dict[str, Any]:
    found = await views.event_detail(conn, event_id)
    if found is None:
        raise EventNotFound
    return found
