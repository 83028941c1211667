"""Write endpoints of events: HTTP in, one application call, what it saved out."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

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
from command_api.writes import KEYED_WRITE_ERRORS, Answer, IdempotencyKey, Key, respond
from shared.application.board import Board
from shared.application.commits import Saved
from shared.application.event_commands import Booking, Rating, WaitlistPlace
from shared.application.idempotency import Idempotency, StoredResponse
from shared.domain.event import EventDetails, EventView
from shared.http.auth import CurrentUser
from shared.http.errors import ErrorBody
from shared.http.events import STATUS_DISPLAY, EventDetail, EventId, Organizer
from shared.identity import Caller
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

R = TypeVar("R")


def _write(status_code: int, summary: str, model: type[BaseModel] | None = None) -> dict[str, Any]:
    """How a write on one event is declared: it answers `status_code` with `model` (without
    one, no body) and the position of what it saved, or one of the write errors."""
    answer = {"response_class": Response} if model is None else {"response_model": model}
    responses = {status_code: _WRITTEN, **_WRITE_ERRORS}
    return {"status_code": status_code, "summary": summary, **answer, "responses": responses}


class EventCommand(Protocol[R]):
    """A command of the board on one event that needs nothing but who asks."""

    def submit(
        self, event_id: UUID, *, caller: Caller, idempotency: Idempotency | None = None
    ) -> Future[Saved[R]]: ...


@dataclass(frozen=True)
class _EventWrite:
    """What a write on one event gets from its request."""

    event_id: UUID
    caller: Caller
    board: Board
    key: Key

    async def run(self, command: EventCommand[R], answer: Callable[[R], Answer]) -> Response:
        """Hand `command` to the committer; answer with `answer` of what it saved."""
        idempotency = self.key.rendering(answer)
        submitted = command.submit(self.event_id, caller=self.caller, idempotency=idempotency)
        return await respond(submitted, answer)


async def _event_write(
    event_id: EventId, caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> _EventWrite:
    return _EventWrite(event_id, caller, board, key)


EventWrite = Annotated[_EventWrite, Depends(_event_write)]


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


@router.patch("/{event_id}/", **_write(200, "Изменить или отменить мероприятие", EventDetail))
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


@router.delete("/{event_id}/", **_write(204, "Удалить мероприятие"))
async def delete_event(write: EventWrite) -> Response:
    return await write.run(write.board.delete_event, _no_content)


@router.post("/{event_id}/book/", **_write(201, "Забронировать место", BookingOut))
async def book_seat(write: EventWrite) -> Response:
    return await write.run(write.board.book_seat, _booked)


@router.post("/{event_id}/cancel_booking/", **_write(200, "Отменить бронь", BookingCancelledOut))
async def cancel_booking(write: EventWrite) -> Response:
    def cancelled(_booking_id: UUID) -> Answer:
        return Answer(200, BookingCancelledOut(event_id=write.event_id))

    return await write.run(write.board.cancel_booking, cancelled)


@router.post(
    "/{event_id}/waitlist/", **_write(201, "Встать в лист ожидания (мест нет)", WaitlistPlaceOut)
)
async def join_waitlist(write: EventWrite) -> Response:
    return await write.run(write.board.join_waitlist, _waitlisted)


@router.delete("/{event_id}/waitlist/", **_write(204, "Покинуть лист ожидания"))
async def leave_waitlist(write: EventWrite) -> Response:
    return await write.run(write.board.leave_waitlist, _no_content)


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
