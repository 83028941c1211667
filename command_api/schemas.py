"""Request bodies of the write endpoints, with the field rules of api.md."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from shared.domain.event import MAX_SCORE, MIN_SCORE
from shared.http.events import Status, UtcDatetime, in_utc
from shared.http.validation import RequestModel

DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_SEATS = 100
MAX_TAGS = 10


@cache
def _timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_timezone(name: str) -> str:
    if name not in _timezone_names():
        raise ValueError("Неизвестный часовой пояс, укажите имя IANA, например Europe/Moscow.")
    return name


def _iso_text(value: Any) -> Any:
    # Pydantic would also take a number of seconds; the contract says ISO 8601 text.
    if not isinstance(value, str | datetime):
        raise ValueError("Укажите дату и время в формате ISO 8601 со смещением.")
    return value


def _without_commas(name: str) -> str:
    if "," in name:
        raise ValueError("Название тега не может содержать запятую.")
    return name


def _first_spelling_of_each(names: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            unique.append(name)
    return unique


def _text(max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Title = Annotated[str, _text(255)]
Description = Annotated[str, _text(10_000)]
Location = Annotated[str, _text(255)]
TimezoneName = Annotated[str, AfterValidator(_known_timezone)]
StartTime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(in_utc)]
Seats = Annotated[int, Field(strict=True, ge=1, le=100_000)]
TagName = Annotated[str, _text(50), AfterValidator(_without_commas)]
Tags = Annotated[list[TagName], Field(max_length=MAX_TAGS), AfterValidator(_first_spelling_of_each)]


class EventCreate(RequestModel):
    """A new event; a `status` or `organizer` in the body is ignored."""

    model_config = ConfigDict(extra="ignore")

    title: Title
    description: Description
    start_time: StartTime
    location: Location
    timezone: TimezoneName = DEFAULT_TIMEZONE
    seats: Seats = DEFAULT_SEATS
    tags: Tags = Field(default_factory=list)


class EventChange(RequestModel):
    """A partial change: only the fields present in the body are changed."""

    model_config = ConfigDict(extra="ignore")

    title: Title | None = None
    description: Description | None = None
    start_time: StartTime | None = None
    location: Location | None = None
    timezone: TimezoneName | None = None
    seats: Seats | None = None
    tags: Tags | None = None
    status: Status | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _present_means_not_null(cls, value: Any) -> Any:
        # Defaults are not validated, so this only sees fields the client sent.
        if value is None:
            raise ValueError("Это поле не может быть null.")
        return value

    def field_changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"status"})


class ScoreIn(RequestModel):
    score: Annotated[int, Field(strict=True, ge=MIN_SCORE, le=MAX_SCORE)]


class TagCreate(RequestModel):
    name: TagName


# Answers of the write endpoints besides the event detail.


class BookingOut(BaseModel):
    booking_id: UUID
    event_id: UUID
    booked_at: UtcDatetime
    message: str


class WaitlistPlaceOut(BaseModel):
    event_id: UUID
    position: int
    joined_at: UtcDatetime


class BookingCancelledOut(BaseModel):
    status: Literal["cancelled"] = "cancelled"
    event_id: UUID


class RatingOut(BaseModel):
    event_id: UUID
    score: int
    rated_at: UtcDatetime


class TagOut(BaseModel):
    name: str


class HistoryItem(BaseModel):
    """One domain event of an event, as its integration event."""

    position: int
    version: int
    type: str
    occurred_at: UtcDatetime
    data: dict[str, Any]
