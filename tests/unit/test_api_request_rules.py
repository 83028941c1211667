"""The field rules of write requests and the per-field messages they produce."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from command_api.schemas import EventChange, EventCreate
from shared.http.validation import field_errors

VALID = {
    "title": "Концерт",
    "description": "Живая музыка",
    "start_time": "2030-05-02T00:00:00+03:00",
    "location": "Москва",
}


def errors_of(model: type[EventCreate] | type[EventChange], body: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    return field_errors(refused.value.errors())


def test_a_valid_event_gets_the_defaults_and_a_utc_start() -> None:
    event = EventCreate.model_validate({**VALID, "status": "finished", "organizer": "x"})

    assert (event.timezone, event.seats, event.tags) == ("Europe/Moscow", 100, [])
    assert event.start_time == datetime(2030, 5, 1, 21, 0, tzinfo=UTC)
    assert event.start_time.tzinfo is UTC


def test_tags_are_trimmed_and_repeated_spellings_dropped() -> None:
    event = EventCreate.model_validate({**VALID, "tags": [" Джаз ", "джаз", "рок"]})

    assert event.tags == ["Джаз", "рок"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": 5}, "title"),
        ({"description": ""}, "description"),
        ({"description": "x" * 10_001}, "description"),
        ({"location": None}, "location"),
        ({"seats": 0}, "seats"),
        ({"seats": 100_001}, "seats"),
        ({"seats": "many"}, "seats"),
        ({"seats": True}, "seats"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"tags": ["a,b"]}, "tags"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"tags": "music"}, "tags"),
        ({"start_time": "2030-05-01T21:00:00"}, "start_time"),
        ({"start_time": 1_900_000_000}, "start_time"),
        ({"start_time": "9999-12-31T23:59:59-23:59"}, "start_time"),
        ({"start_time": "tomorrow"}, "start_time"),
    ],
)
def test_an_invalid_field_is_named_with_a_message(overrides: dict[str, Any], field: str) -> None:
    errors = errors_of(EventCreate, {**VALID, **overrides})

    assert list(errors) == [field]
    assert all(isinstance(message, str) and message for message in errors[field])


def test_missing_fields_are_each_reported() -> None:
    errors = errors_of(EventCreate, {})

    assert sorted(errors) == ["description", "location", "start_time", "title"]
    assert errors["title"] == ["Обязательное поле."]


def test_a_body_that_is_not_an_object_is_a_non_field_error() -> None:
    assert list(errors_of(EventCreate, ["title"])) == ["non_field_errors"]


def test_a_change_holds_only_the_fields_sent() -> None:
    change = EventChange.model_validate({"seats": 5, "status": "upcoming"})

    assert change.field_changes() == {"seats": 5}


@pytest.mark.parametrize("body", [{"title": None}, {"status": "postponed"}])
def test_a_change_refuses_nulls_and_unknown_statuses(body: dict[str, Any]) -> None:
    assert list(errors_of(EventChange, body)) == list(body)
