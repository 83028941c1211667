"""Read endpoints of events: read-model rows in, plain data out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from query_api.counts import CountCache
from query_api.deps import AskedPosition, Pagination, ReadConnection, app_clock
from query_api.event_filters import EventFilters
from query_api.event_ordering import Ordering, event_ordering
from query_api.listing_queries import ListingQueries
from query_api.pagination import Page
from query_api.read_router import read_router
from shared.domain.errors import EventNotFound
from shared.http.auth import CurrentUser, OptionalUser
from shared.http.events import EventDetail, EventId, EventListItem
from shared.http.responses import json_response
from shared.integration.names import EVENTS_PROJECTION
from shared.read_model.views import events as views

router = read_router(
    "/api/events",
    "events",
    token_required=False,
    projection=EVENTS_PROJECTION,
    not_found="Не найдено",
)


# The views return the API's shape; the answers are encoded straight from it.
@router.get("/", summary="Список мероприятий", response_model=Page[EventListItem])
async def list_events(
    request: Request,
    filters: Annotated[EventFilters, Query()],
    order: Annotated[Ordering, Depends(event_ordering)],
    pages: Pagination,
    asked: AskedPosition,
) -> Response:
    engine: AsyncEngine = request.app.state.engine
    counts: CountCache = request.app.state.counts
    queries: ListingQueries = request.app.state.listing_queries
    count_query, page_query = queries.of(filters, order, pages)
    count = await counts.count(
        filters.model_dump_json(exclude_none=True),
        asked,
        lambda: views.count_events(engine, count_query),
    )
    page = await pages.answer(request, count, lambda: views.list_events(engine, page_query))
    return json_response(page)


@router.get(
    "/my_upcoming_events/",
    summary="Мои предстоящие мероприятия",
    response_model=list[EventListItem],
)
async def my_upcoming_events(
    request: Request, caller: CurrentUser, conn: ReadConnection
) -> Response:
    return json_response(await views.upcoming_events_of(conn, caller.id, app_clock(request).now()))


@router.get("/{event_id}/", summary="Мероприятие", response_model=EventDetail)
async def get_event(event_id: EventId, caller: OptionalUser, conn: ReadConnection) -> Response:
    found = await views.event_detail(conn, event_id, caller.id if caller else None)
    if found is None:
        raise EventNotFound
    return json_response(found)
