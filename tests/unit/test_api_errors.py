"""The one error shape and the one table from errors to HTTP statuses (no servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import eventsourcing.persistence
import psycopg
import psycopg_pool
import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from command_api.throttle import TooManyAttempts
from shared.auth.tokens import InvalidToken
from shared.domain.errors import (
    ConcurrentModification,
    DeleteWindowClosed,
    EditWindowClosed,
    EventNotFound,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidCredentials,
    InvalidField,
    NoFreeSeats,
    NotOrganizer,
    SeatsBelowBooked,
)
from shared.http.app import create_api_app
from shared.http.errors import ApiError, ErrorBody
from shared.settings import Settings


@asynccontextmanager
async def no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def raising(error: Exception) -> FastAPI:
    app = create_api_app(Settings(), title="test", lifespan=no_lifespan)

    @app.post("/raise/")
    async def endpoint() -> None:
        raise error

    return app


async def post(app: FastAPI, path: str = "/raise/") -> tuple[int, dict[str, object], str]:
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(path)
    return response.status_code, response.json(), response.headers.get("retry-after", "")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (EventNotFound(), 404, "event_not_found"),
        (NotOrganizer(), 403, "not_organizer"),
        (EditWindowClosed(), 403, "edit_window_closed"),
        (SeatsBelowBooked(), 400, "seats_below_booked"),
        (ConcurrentModification(), 409, "concurrent_modification"),
        (NoFreeSeats(), 400, "no_free_seats"),
        (DeleteWindowClosed(), 403, "delete_window_closed"),
        (IdempotencyKeyReused(), 422, "idempotency_key_reused"),
        (IdempotencyInProgress(), 409, "idempotency_in_progress"),
        (InvalidToken(), 401, "token_not_valid"),
        (ApiError(404, "page_not_found", "Неправильная страница."), 404, "page_not_found"),
    ],
)
async def test_each_kind_of_error_has_its_status_and_code(
    error: Exception, status: int, code: str
) -> None:
    answered, body, _ = await post(raising(error))

    assert (answered, body["code"]) == (status, code)
    assert isinstance(body["detail"], str)
    assert body["detail"]


async def test_a_wrong_password_is_401_invalid_credentials() -> None:
    answered, body, _ = await post(raising(InvalidCredentials()))

    assert (answered, body["code"]) == (401, "invalid_credentials")


async def test_too_many_login_failures_say_when_to_try_again() -> None:
    answered, body, retry_after = await post(raising(TooManyAttempts(retry_after_seconds=42)))

    assert (answered, body["code"], retry_after) == (429, "too_many_attempts", "42")


async def test_a_domain_rule_on_one_field_answers_like_a_validation_error() -> None:
    answered, body, _ = await post(raising(InvalidField("score", "От 1 до 5.")))

    assert answered == 400
    assert body["code"] == "validation_error"
    assert body["errors"] == {"score": ["От 1 до 5."]}


unavailable: list[Callable[[], Exception]] = [
    lambda: psycopg.OperationalError("connection refused"),
    lambda: psycopg_pool.PoolTimeout("no connection in time"),
    lambda: eventsourcing.persistence.OperationalError("lock timeout"),
    lambda: sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
    lambda: sqlalchemy.exc.OperationalError("SELECT 1", {}, OSError("refused")),
]


@pytest.mark.parametrize("make_error", unavailable)
async def test_an_unreachable_database_is_service_unavailable(
    make_error: Callable[[], Exception],
) -> None:
    answered, body, retry_after = await post(raising(make_error()))

    assert (answered, body["code"]) == (503, "service_unavailable")
    assert retry_after


async def test_an_unexpected_error_keeps_the_error_shape() -> None:
    answered, body, _ = await post(raising(RuntimeError("bug")))

    assert (answered, body["code"]) == (500, "server_error")


async def test_an_unknown_route_and_a_wrong_method_keep_the_error_shape() -> None:
    app = raising(RuntimeError())
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        unknown = await client.get("/nowhere/")
        wrong_method = await client.get("/raise/")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "POST"


def test_the_documented_contract_answers_400_never_422() -> None:
    app = create_api_app(Settings(), title="test", lifespan=no_lifespan)

    @app.get("/items/")
    async def items(page: int = 1) -> list[int]:
        return [page]

    document = app.openapi()
    responses = document["paths"]["/items/"]["get"]["responses"]

    assert "422" not in responses
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_a_422_a_route_documents_itself_stays_beside_the_400() -> None:
    app = create_api_app(Settings(), title="test", lifespan=no_lifespan)

    @app.post("/items/", responses={422: {"model": ErrorBody, "description": "Ключ занят"}})
    async def add_item(page: int = 1) -> list[int]:
        return [page]

    responses = app.openapi()["paths"]["/items/"]["post"]["responses"]

    assert responses["422"]["description"] == "Ключ занят"
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
