"""The `ordering` of `GET /api/events/`: a comma list of fields, each optionally `-`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from sqlalchemy import ColumnElement

from shared.read_model.schema import events

_c = events.c
ORDERING_FIELDS: dict[str, ColumnElement[Any]] = {
    "start_time": _c.start_time,
    "status": _c.status,
    "avg_rating": _c.avg_rating,
    "created_at": _c.created_at,
    "free_seats": _c.free_seats,
    "title": _c.title,
}
# Upcoming events first, soonest first; then the others, most recent first (one number,
# `listing_key`, says both, so an index serves it); ties by the average rating, highest first.
DEFAULT_ORDER: tuple[ColumnElement[Any], ...] = (
    _c.listing_key,
    _c.avg_rating.desc().nulls_last(),
)


@dataclass(frozen=True)
class Ordering:
    """The `ordering` asked for, and the ORDER BY it makes."""

    asked: str
    columns: tuple[ColumnElement[Any], ...]


async def event_ordering(
    ordering: Annotated[
        str | None,
        Query(
            description="Поля через запятую, «-» — по убыванию: " + ", ".join(ORDERING_FIELDS),
            examples=["-avg_rating,start_time"],
        ),
    ] = None,
) -> Ordering:
    # A coroutine although it awaits nothing: FastAPI runs a plain function in its thread
    # pool, a hop that cost more than the whole parse.
    return Ordering(ordering or "", order_by(ordering))


def order_by(ordering: str | None) -> tuple[ColumnElement[Any], ...]:
    """The ORDER BY of a listing, always ending with the id so pages never overlap or skip."""
    if not ordering or not ordering.strip():
        return (*DEFAULT_ORDER, _c.id)
    order: list[ColumnElement[Any]] = []
    for term in (t.strip() for t in ordering.split(",")):
        name = term.removeprefix("-")
        column = ORDERING_FIELDS.get(name)
        if column is None:
            message = (
                f"Недопустимое поле сортировки «{term}». Допустимые: {', '.join(ORDERING_FIELDS)}."
            )
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("query", "ordering"), "ctx": {"error": message}}]
            )
        # Unrated events come after rated ones whichever the direction.
        order.append((column.desc() if term.startswith("-") else column.asc()).nulls_last())
    return (*order, _c.id)
