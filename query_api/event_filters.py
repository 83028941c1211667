"""The filters of `GET /api/events/`: query parameters in, SQL conditions out.

Every parameter is validated here, so a bad value is a 400 naming the parameter; the
conditions only ever compare against columns the projection keeps ready (folded text,
free seats, a search vector), so no filter computes per row what could be indexed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, and_, func, literal, select
from sqlalchemy.dialects.postgresql import REGCONFIG

from shared.domain.user import user_id_for
from shared.http.events import Status, in_utc
from shared.http.validation import RequestModel
from shared.read_model.schema import events, organizer_ratings
from shared.read_model.text import TAG_SEPARATOR, fold_text

SEARCH_CONFIGS = ("russian", "english")
# The largest value of the `integer` columns a number is compared with.
MAX_INTEGER = 2**31 - 1
_c = events.c
# A `+` in a query string arrives as a space: `…T10:00:00 03:00` means `…T10:00:00+03:00`.
_SPACE_FOR_PLUS = re.compile(r"^(\S+) (\d{2}(?::?\d{2})?)$")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# How websearch_to_tsquery splits its text: words (which end only at a space, a quote or an
# operator character) and the gaps between them, where a `-` is a NOT.
_WORD_OR_GAP = re.compile(r'(?P<word>[^-\s!&|()<"][^\s!&|()<"]*)|(?P<gap>[-\s!&|()<]+)')


def _comma_list(value: Any) -> Any:
    # A repeated parameter arrives as a list; each of its values may be a comma list too.
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list):
        return value
    return [item.strip() for v in values for item in str(v).split(",") if item.strip()]


def _plus_from_space(value: Any) -> Any:
    if isinstance(value, str):
        return _SPACE_FOR_PLUS.sub(r"\1+\2", value.strip())
    return value


def search_text(text: str) -> str:
    """The same query with each run of negations cut to what its parity means.

    `websearch_to_tsquery` reads every `-` between words as a NOT, skipping spaces and
    operator characters between them (a `-` after a word's first letter is part of the
    word); more than about thirty NOTs in a row overflow its operator stack, an error rather
    than an answer. NOT NOT is no NOT, so such a run keeps one `-` or none.
    """
    return _WORD_OR_GAP.sub(_negation_parity, text)


def _negation_parity(match: re.Match[str]) -> str:
    gap = match.group("gap")
    if gap is None or gap.count("-") < 2:
        return match.group()
    return " " + "-" * (gap.count("-") % 2)


def _iso_day(value: Any) -> Any:
    # Pydantic would also read a number as seconds since 1970; the contract says YYYY-MM-DD.
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value.strip()):
        raise PydanticCustomError("date_parsing", "not YYYY-MM-DD")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Day = Annotated[date, BeforeValidator(_iso_day)]
QueryDatetime = Annotated[AwareDatetime, BeforeValidator(_plus_from_space), AfterValidator(in_utc)]
# A decimal, so it reaches PostgreSQL as `numeric` like the column: a float would be sent
# as `double precision`, the column cast to it, and its index left unused. Its places are
# bounded, as PostgreSQL bounds a `numeric`'s scale (`1e-20000` is a number it cannot hold);
# twenty are more than any float a client prints. Pydantic counts places without trailing
# zeros, so the value is sent as normalized too (`0e-99999` is 0, `5.000…` is 5).
RATING_DECIMAL_PLACES = 20
Rating = Annotated[
    Decimal,
    Field(ge=0, le=5, allow_inf_nan=False, decimal_places=RATING_DECIMAL_PLACES),
    AfterValidator(Decimal.normalize),
]


class EventFilters(RequestModel):
    """The filters of the listing; each one left out places no condition."""

    model_config = ConfigDict(extra="ignore")

    location: Text | None = Field(None, description="Город, без учёта регистра")
    status: Annotated[list[Status], BeforeValidator(_comma_list)] | None = Field(
        None, description="Статус или несколько через запятую"
    )
    start_time: Day | None = Field(None, description="День начала (UTC), ГГГГ-ММ-ДД")
    start_after: QueryDatetime | None = Field(None, description="Начало не раньше")
    start_before: QueryDatetime | None = Field(None, description="Начало не позже")
    tag: Text | None = Field(None, description="Часть названия тега, без учёта регистра")
    tags: Annotated[list[Text], BeforeValidator(_comma_list)] | None = Field(
        None, description="Теги через запятую: все должны быть у мероприятия"
    )
    free_seats: bool | None = Field(None, description="true — есть места, false — мест нет")
    min_free_seats: int | None = Field(
        None, ge=0, le=MAX_INTEGER, description="Не меньше N свободных мест"
    )
    has_waitlist: bool | None = Field(
        None, description="true — есть лист ожидания, false — очереди нет"
    )
    avg_rating__gte: Rating | None = Field(None, description="Средняя оценка не ниже")
    avg_rating__lte: Rating | None = Field(None, description="Средняя оценка не выше")
    organizer: Text | None = Field(None, description="Имя или id организатора")
    min_organizer_rating: Rating | None = Field(
        None, description="Средняя оценка организатора по всем его мероприятиям не ниже"
    )
    search: Annotated[Text, AfterValidator(search_text)] | None = Field(
        None, description="Полнотекстовый поиск (русский и английский)"
    )

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool] | None] = [
            _c.location_folded == fold_text(self.location) if self.location else None,
            _c.status.in_(self.status) if self.status else None,
            _on_day(self.start_time) if self.start_time else None,
            _c.start_time >= self.start_after if self.start_after else None,
            _c.start_time <= self.start_before if self.start_before else None,
            _tag_containing(self.tag) if self.tag else None,
            _c.tags_folded.contains([fold_text(t) for t in self.tags]) if self.tags else None,
            _free_seats(self.free_seats) if self.free_seats is not None else None,
            _c.free_seats >= self.min_free_seats if self.min_free_seats is not None else None,
            _has_waitlist(self.has_waitlist) if self.has_waitlist is not None else None,
            _c.avg_rating >= self.avg_rating__gte if self.avg_rating__gte is not None else None,
            _c.avg_rating <= self.avg_rating__lte if self.avg_rating__lte is not None else None,
            _organized_by(self.organizer) if self.organizer else None,
            _organizer_rated_at_least(self.min_organizer_rating)
            if self.min_organizer_rating is not None
            else None,
            _c.search_vector.op("@@")(search_query(self.search)) if self.search else None,
        ]
        return [condition for condition in found if condition is not None]


def search_query(text: str) -> ColumnElement[Any]:
    """The query for `search`, stemmed both ways, as the search vector is."""
    russian, english = (
        func.websearch_to_tsquery(literal(config).cast(REGCONFIG), text)
        for config in SEARCH_CONFIGS
    )
    return russian.op("||")(english)


def _on_day(day: date) -> ColumnElement[bool]:
    start = datetime.combine(day, time(), UTC)
    if day == date.max:
        # The last day there is: no next day to stop before.
        return _c.start_time >= start
    return and_(_c.start_time >= start, _c.start_time < start + timedelta(days=1))


def _tag_containing(text: str) -> ColumnElement[bool]:
    # The folded tags joined by a separator no tag contains, so a match never spans two tags.
    escaped = (
        fold_text(text)
        .replace(TAG_SEPARATOR, "")
        .replace("\\", "\\\\")
        .replace("%", "\\%")
        .replace("_", "\\_")
    )
    return _c.tags_text.like(f"%{escaped}%", escape="\\")


def _free_seats(wanted: bool) -> ColumnElement[bool]:
    return _c.free_seats > 0 if wanted else _c.free_seats == 0


def _has_waitlist(wanted: bool) -> ColumnElement[bool]:
    return _c.waitlist_length > 0 if wanted else _c.waitlist_length == 0


def _organized_by(organizer: str) -> ColumnElement[bool]:
    try:
        return _c.organizer_id == UUID(organizer)
    except ValueError:
        # A user's id derives from their case-folded name, so the name needs no lookup.
        return _c.organizer_id == user_id_for(organizer)


def _organizer_rated_at_least(minimum: Decimal) -> ColumnElement[bool]:
    # The organizer's average over every rating of every event they organise.
    o = organizer_ratings.c
    rated = select(o.organizer_id).where(
        o.rating_count > 0, o.rating_sum >= minimum * o.rating_count
    )
    return _c.organizer_id.in_(rated)
