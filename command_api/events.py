"""Write endpoints of events: HTTP in, one application call, the written aggregate out."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Response

from command_api.deps import BoardApp, CurrentUser, EventId
from command_api.schemas import EventChange, EventCreate
from shared.domain.errors import InvalidStatusTransition
from shared.domain.event import UPCOMING, Event
from shared.http.errors import ErrorBody
from shared.http.events import STATUS_DISPLAY, EventDetail, Organizer, Status

POSITION_HEADER = "X-Event-Position"

router = APIRouter(prefix="/api/events", tags=["events"])

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
    409: {"model": ErrorBody, "description": "Одновременное изменение"},
    503: {"model": ErrorBody, "description": "База данных недоступна"},
}


def detail_of(event: Event) -> EventDetail:
    """The detail of a just-written event, from the aggregate rather than the lagging read model."""
    return EventDetail(
        id=event.id,
        title=event.title,
        description=event.description,
        start_time=event.start_time,
        timezone=event.timezone,
        location=event.location,
        seats=event.seats,
        status=cast(Status, event.status),
        status_display=STATUS_DISPLAY[event.status],
        organizer=Organizer(id=event.organizer_id, username=event.organizer_username),
        tags=event.tags,
        booked_count=event.booked_count,
        free_seats=event.seats - event.booked_count,
        avg_rating=None,
        rating_count=0,
        created_at=event.scheduled_at,
        updated_at=event.changed_at,
        is_booked=False,
        my_rating=None,
    )


@router.post(
    "/",
    status_code=201,
    summary="Создать мероприятие",
    responses={
        201: {"headers": {**_POSITION_DOC, "Location": {"schema": {"type": "string"}}}},
        **_ERRORS,
    },
)
def create_event(
    body: EventCreate, caller: CurrentUser, board: BoardApp, response: Response
) -> EventDetail:
    saved = board.schedule_event(caller=caller, **body.model_dump())
    response.headers["Location"] = f"/api/events/{saved.aggregate.id}/"
    response.headers[POSITION_HEADER] = str(saved.position)
    return detail_of(saved.aggregate)


@router.patch(
    "/{event_id}/",
    summary="Изменить мероприятие",
    responses={200: {"headers": _POSITION_DOC}, **_ERRORS},
)
def change_event(
    event_id: EventId, body: EventChange, caller: CurrentUser, board: BoardApp, response: Response
) -> EventDetail:
    if body.status is not None and body.status != UPCOMING:
        # Cancelling comes with the status commands; until then no transition is allowed,
        # but who may ask is checked first, as for any change.
        board.get_event(event_id).check_may_manage(caller.id, caller.is_staff)
        raise InvalidStatusTransition
    saved = board.update_event(event_id, caller=caller, changes=body.field_changes())
    response.headers[POSITION_HEADER] = str(saved.position)
    return detail_of(saved.aggregate)
