"""Read endpoints of the calendar: one event's entry, the caller's feed URL, the feed."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from query_api import calendar_queries as queries
from query_api.calendar_entries import MEDIA_TYPE, calendar_of
from query_api.deps import ReadConnection, fresh_read_of
from query_api.feeds import Feeds
from query_api.read_router import read_router
from shared.domain.errors import EventNotFound, NotFound
from shared.http.auth import CurrentUser
from shared.http.calendar_feeds import CalendarFeed, feed_answer
from shared.http.errors import ErrorBody
from shared.http.events import EventId
from shared.integration.names import EVENTS_PROJECTION

router = read_router("/api", "calendar", token_required=False)

_CALENDAR = {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}}


class FeedNotFound(NotFound):
    code = "calendar_not_found"
    detail = "Календарь не найден."


@router.get(
    "/events/{event_id}/calendar.ics",
    summary="Мероприятие в формате iCalendar",
    response_class=Response,
    dependencies=[Depends(fresh_read_of(EVENTS_PROJECTION))],
    responses={
        200: {**_CALENDAR, "description": "Один VEVENT с VTIMEZONE"},
        404: {"model": ErrorBody, "description": "Мероприятие не найдено"},
    },
)
async def event_calendar(request: Request, event_id: EventId, conn: ReadConnection) -> Response:
    row = await queries.event_entry(conn, event_id)
    if row is None:
        raise EventNotFound
    return Response(calendar_of([row], str(request.base_url)), media_type=MEDIA_TYPE)


@router.get(
    "/users/me/calendar/",
    summary="Адрес моей ленты бронирований",
    response_model=CalendarFeed,
)
async def my_calendar(request: Request, caller: CurrentUser) -> dict[str, Any]:
    feeds: Feeds = request.app.state.feeds
    return feed_answer(request, caller.id, await feeds.generation(caller.id))


@router.get(
    "/calendar/{token}.ics",
    summary="Лента бронирований (по секретному адресу)",
    response_class=Response,
    responses={
        200: {**_CALENDAR, "description": "Мои бронирования: VEVENT на каждое"},
        404: {"model": ErrorBody, "description": "Неизвестный или заменённый адрес"},
    },
)
async def calendar_feed(request: Request, token: str) -> Response:
    feeds: Feeds = request.app.state.feeds
    body = await feeds.body(token, str(request.base_url))
    if body is None:
        raise FeedNotFound
    return Response(body, media_type=MEDIA_TYPE)
