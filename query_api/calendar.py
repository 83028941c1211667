"""Read endpoints of the calendar: one event's entry, the caller's feed URL, the feed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from query_api import calendar_queries as queries
from query_api.calendar_entries import MEDIA_TYPE, calendar_of
from query_api.deps import ReadConnection, fresh_read_of
from query_api.feed_cache import FeedCache
from shared.domain.errors import EventNotFound, NotFound
from shared.http.auth import CurrentUser, optional_caller
from shared.http.calendar_feeds import CalendarFeed, feed_answer, feed_tokens
from shared.http.errors import ErrorBody
from shared.http.events import EventId
from shared.integration.names import EVENTS_PROJECTION

FEED_NAME = "Афиша: мои бронирования"

router = APIRouter(
    prefix="/api",
    tags=["calendar"],
    # A bad token is refused on these public routes too, as everywhere.
    dependencies=[Depends(optional_caller)],
    responses={
        401: {"model": ErrorBody, "description": "Токен недействителен"},
        503: {"model": ErrorBody, "description": "Чтение отстаёт или база недоступна"},
    },
)

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
async def my_calendar(
    request: Request, caller: CurrentUser, conn: ReadConnection
) -> dict[str, Any]:
    return feed_answer(request, caller.id, await queries.feed_generation(conn, caller.id))


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
    claimed = feed_tokens(request).claimed_user(token)
    if claimed is None:
        raise FeedNotFound
    user_id, mac = claimed
    engine: AsyncEngine = request.app.state.engine
    cache: FeedCache = request.app.state.feed_cache
    async with engine.connect() as conn:
        generation, version = await queries.feed_state(conn, user_id)
        if not feed_tokens(request).verifies(user_id, mac, generation):
            raise FeedNotFound
        key = (user_id, generation, str(request.base_url))
        body = cache.get(key, version)
        if body is None:
            rows = await queries.feed_entries(conn, user_id)
            body = calendar_of(rows, str(request.base_url), FEED_NAME)
            cache.keep(key, version, body)
    return Response(body, media_type=MEDIA_TYPE)
