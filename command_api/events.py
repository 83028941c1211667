"""Write endpoints of events: HTTP in, one application call, what it saved out."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from command_api.deps import BoardApp
from command_api.schemas import (
    BookingCancelledOut,
    BookingOut,
    EventChange,
    EventCreate,
    HistoryItem,
    RatingOut,
    ScoreIn,
    WaitlistPlaceOut,
)
from command_api.writes import KEYED_WRITE_ERRORS, Answer, IdempotencyKey, respond
from shared.application.event_commands import Booking, Rating, WaitlistPlace
from shared.application.idempotency import StoredResponse
from shared.domain.event import EventDetails, EventView
from shared.http.auth import CurrentUser
from shared.http.errors import ErrorBody
from shared.http.events import STATUS_DISPLAY, EventDetail, EventId, Organizer
from shared.integration.names import POSITION_HEADER

router = APIRouter(prefix="/api/events", tags=["events"])

BOOKED_MESSAGE = "Место успешно забронировано."

_POSITION_DOC = {
    POSITION_HEADER: {
        "description": "Глобальная позиция записанного события; передайте её в X-Min-Position.",
        "schema": {"type": "integer"},
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Нет токена или токен недействителен"},
    403: {"model": ErrorBody, "description": "Нет прав или окно редактирования закрыто"},
    404: {"model": ErrorBody, "description": "Мероприятие не найдено"},
    503: {"model": ErrorBody, "description": "База данных недоступна"},
}
_WRITE_ERRORS = {**_ERRORS, **KEYED_WRITE_ERRORS}
_WRITTEN = {"headers": _POSITION_DOC}


def detail_of(event: EventView) -> EventDetail:
    """The detail of a just-written event, from the aggregate rather than the lagging read model."""
    own = {k: v for k, v in vars(event).items() if not k.startswith("organizer_")}
    return EventDetail(
        **own,
        status_display=STATUS_DISPLAY[event.status],
        organizer=Organizer(id=event.organizer_id, username=event.organizer_username),
        free_seats=event.seats - event.booked_count,
    )


def _location(event: EventView) -> dict[str, str]:
    return _location_of(str(event.id))


def _kept_location(kept: StoredResponse) -> dict[str, str]:
    return _location_of(json.loads(kept.body)["id"])


def _location_of(event_id: str) -> dict[str, str]:
    return {"Location": f"/api/events/{event_id}/"}


def _created(event: EventView) -> Answer:
    return Answer(201, detail_of(event))


def _changed(event: EventView) -> Answer:
    return Answer(200, detail_of(event))


def _no_content(_event_id: UUID) -> Answer:
    return Answer(204)


def _booked(booking: Booking) -> Answer:
    return Answer(201, BookingOut(**vars(booking), message=BOOKED_MESSAGE))


def _waitlisted(place: WaitlistPlace) -> Answer:
    return Answer(201, WaitlistPlaceOut(**vars(place)))


def _rated(rating: Rating) -> Answer:
    out = RatingOut(event_id=rating.event_id, score=rating.score, rated_at=rating.rated_at)
    return Answer(201 if rating.first else 200, out)


@router.post(
    "/",
    status_code=201,
    summary="Создать мероприятие",
    response_model=EventDetail,
    responses={
        201: {"headers": {**_POSITION_DOC, "Location": {"schema": {"type": "string"}}}},
        **_WRITE_ERRORS,
    },
)
async def create_event(
    body: EventCreate, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    scheduled = board.schedule_event.submit(
        EventDetails(**body.model_dump()), caller=caller, idempotency=key.rendering(_created)
    )
    return await respond(scheduled, _created, _location, _kept_location)


@router.patch(
    "/{event_id}/",
    summary="Изменить или отменить мероприятие",
    response_model=EventDetail,
    responses={200: _WRITTEN, **_WRITE_ERRORS},
)
async def change_event(
    event_id: EventId, body: EventChange, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    changed = board.update_event.submit(
        event_id,
        caller=caller,
        changes=body.field_changes(),
        status=body.status,
        idempotency=key.rendering(_changed),
    )
    return await respond(changed, _changed)


@router.delete(
    "/{event_id}/",
    status_code=204,
    summary="Удалить мероприятие",
    response_class=Response,
    responses={204: _WRITTEN, **_WRITE_ERRORS},
)
async def delete_event(
    event_id: EventId, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    deleted = board.delete_event.submit(
        event_id, caller=caller, idempotency=key.rendering(_no_content)
    )
    return await respond(deleted, _no_content)


@router.post(
    "/{event_id}/book/",
    status_code=201,
    summary="Забронировать место",
    response_model=BookingOut,
    responses={201: _WRITTEN, **_WRITE_ERRORS},
)
async def book_seat(
    event_id: EventId, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    booked = board.book_seat.submit(event_id, caller=caller, idempotency=key.rendering(_booked))
    return await respond(booked, _booked)


@router.post(
    "/{event_id}/cancel_booking/",
    summary="Отменить бронь",
    response_model=BookingCancelledOut,
    responses={200: _WRITTEN, **_WRITE_ERRORS},
)
async def cancel_booking(
    event_id: EventId, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    def cancelled(_booking_id: UUID) -> Answer:
        return Answer(200, BookingCancelledOut(event_id=event_id))

    idempotency = key.rendering(cancelled)
    return await respond(
        board.cancel_booking.submit(event_id, caller=caller, idempotency=idempotency), cancelled
    )


@router.post(
    "/{event_id}/waitlist/",
    status_code=201,
    summary="Встать в лист ожидания (мест нет)",
    response_model=WaitlistPlaceOut,
    responses={201: _WRITTEN, **_WRITE_ERRORS},
)
async def join_waitlist(
    event_id: EventId, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    joined = board.join_waitlist.submit(
        event_id, caller=caller, idempotency=key.rendering(_waitlisted)
    )
    return await respond(joined, _waitlisted)


@router.delete(
    "/{event_id}/waitlist/",
    status_code=204,
    summary="Покинуть лист ожидания",
    response_class=Response,
    responses={204: _WRITTEN, **_WRITE_ERRORS},
)
async def leave_waitlist(
    event_id: EventId, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    left = board.leave_waitlist.submit(
        event_id, caller=caller, idempotency=key.rendering(_no_content)
    )
    return await respond(left, _no_content)


@router.post(
    "/{event_id}/rate/",
    status_code=201,
    summary="Оценить мероприятие (201 — первая оценка, 200 — замена)",
    response_model=RatingOut,
    responses={200: _WRITTEN, 201: _WRITTEN, **_WRITE_ERRORS},
)
async def rate_event(
    event_id: EventId, body: ScoreIn, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    rated = board.rate_event.submit(
        event_id, caller=caller, score=body.score, idempotency=key.rendering(_rated)
    )
    return await respond(rated, _rated)


@router.get(
    "/{event_id}/history/",
    summary="История мероприятия (для организатора и администраторов)",
    responses=_ERRORS,
)
def event_history(event_id: EventId, caller: CurrentUser, board: BoardApp) -> list[HistoryItem]:
    return [HistoryItem(**vars(entry)) for entry in board.event_history(event_id, caller=caller)]
