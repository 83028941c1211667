"""How an event looks over HTTP; the command side and the query side answer the same shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Depends, Path
from pydantic import AfterValidator, BaseModel

from shared.domain.errors import EventNotFound
from shared.domain.event import CANCELLED, FINISHED, UPCOMING

STATUS_DISPLAY = {UPCOMING: "Ожидается", CANCELLED: "Отменено", FINISHED: "Завершено"}
Status = Literal["upcoming", "cancelled", "finished"]


def in_utc(moment: datetime) -> datetime:
    """The moment in UTC; one that UTC cannot show (past year 9999 or before year 1) is
    refused as a validation error."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("Дата вне допустимого диапазона.") from None


# Rendered as `2026-12-01T18:00:00Z`.
UtcDatetime = Annotated[datetime, AfterValidator(in_utc)]


class Organizer(BaseModel):
    id: UUID
    username: str


class EventListItem(BaseModel):
    id: UUID
    title: str
    start_time: UtcDatetime
    timezone: str
    location: str
    seats: int
    status: Status
    status_display: str
    organizer: Organizer
    tags: list[str]
    booked_count: int
    free_seats: int
    avg_rating: float | None
    rating_count: int
    created_at: UtcDatetime
    updated_at: UtcDatetime
    waitlist_length: int


class EventDetail(EventListItem):
    description: str
    is_booked: bool
    my_rating: int | None
    my_waitlist_position: int | None


async def event_id_in_path(
    event_id: Annotated[str, Path(description="UUID мероприятия")],
) -> UUID:
    """The event id from the path; a malformed one names no event, so it is not found."""
    try:
        return UUID(event_id)
    except ValueError:
        raise EventNotFound from None


EventId = Annotated[UUID, Depends(event_id_in_path)]
