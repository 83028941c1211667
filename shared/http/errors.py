"""The one error shape of the API, and the one table that maps errors to HTTP statuses.

Every error answer is `{"detail": "<Russian text>", "code": "<snake_case>"}`; validation
errors add `"errors": {"<field>": ["<message>", ...]}`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import eventsourcing.persistence as es_persistence
import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from shared.auth.tokens import InvalidToken
from shared.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidCredentials,
    InvalidField,
    NotFound,
    RuleViolated,
    Unprocessable,
)
from shared.http.validation import field_errors

logger = logging.getLogger(__name__)

VALIDATION_ERROR = "validation_error"


class ErrorBody(BaseModel):
    """What every error answer looks like (`errors` only for validation errors)."""

    detail: str
    code: str
    errors: dict[str, list[str]] | None = None


class ApiError(Exception):
    """An answer that only exists over HTTP: a page past the last one, a lagging read."""

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


class RetryLater(ApiError):
    """Refused for now: come back in `retry_after_seconds` (429 by default)."""

    def __init__(
        self, code: str, detail: str, retry_after_seconds: int, status_code: int = 429
    ) -> None:
        super().__init__(status_code, code, detail, {"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


class NotAuthenticated(ApiError):
    def __init__(self) -> None:
        super().__init__(
            401,
            "not_authenticated",
            "Учетные данные не были предоставлены.",
            {"WWW-Authenticate": "Bearer"},
        )


# Looked up along the error's class hierarchy, so a concrete error takes its kind's status.
STATUS_BY_ERROR: dict[type[Exception], int] = {
    NotFound: 404,
    Forbidden: 403,
    RuleViolated: 400,
    Conflict: 409,
    Unprocessable: 422,
    DomainError: 400,
    InvalidToken: 401,
    InvalidCredentials: 401,
}

# A database that cannot be reached, or a pool with no free connection in time.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)

# Errors the framework raises itself (routing, unreadable bodies), by status.
FRAMEWORK_ERRORS: dict[int, tuple[str, str]] = {
    400: ("parse_error", "Некорректное тело запроса."),
    401: ("not_authenticated", "Учетные данные не были предоставлены."),
    403: ("permission_denied", "Недостаточно прав."),
    404: ("not_found", "Не найдено."),
    405: ("method_not_allowed", "Метод не разрешён."),
    413: ("request_too_large", "Слишком большой запрос."),
    415: ("unsupported_media_type", "Неподдерживаемый тип данных."),
    431: ("request_header_fields_too_large", "Слишком большие заголовки запроса."),
}


def error_response(
    status_code: int,
    code: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status_code, headers=headers)


def framework_error_response(
    status_code: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    code, detail = FRAMEWORK_ERRORS.get(status_code, ("error", "Ошибка запроса."))
    return error_response(status_code, code, detail, headers)


def _coded_error_handler(status_code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(_request: Request, error: Exception) -> Response:
        code: str = getattr(error, "code", "error")
        detail: str = getattr(error, "detail", str(error))
        return error_response(status_code, code, detail)

    return handle


async def _api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error.status_code, error.code, error.detail, error.headers)


async def _invalid_field(_request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidField)
    return error_response(
        400, VALIDATION_ERROR, "Проверьте введённые данные.", errors={error.field: [error.detail]}
    )


async def _validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return error_response(
        400, VALIDATION_ERROR, "Проверьте введённые данные.", errors=field_errors(error.errors())
    )


async def http_exception_handler(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return framework_error_response(error.status_code, error.headers)


async def _unavailable(request: Request, error: Exception) -> Response:
    logger.warning("database unavailable for %s %s: %s", request.method, request.url.path, error)
    return error_response(
        503,
        "service_unavailable",
        "Сервис временно недоступен, повторите попытку позже.",
        {"Retry-After": "1"},
    )


async def _unexpected(_request: Request, _error: Exception) -> Response:
    # Starlette logs the error and re-raises it after this answer is sent.
    return error_response(500, "server_error", "Внутренняя ошибка сервера.")


def install_error_handlers(app: FastAPI) -> None:
    for error_class, status_code in STATUS_BY_ERROR.items():
        app.add_exception_handler(error_class, _coded_error_handler(status_code))
    for error_class in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_class, _unavailable)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InvalidField, _invalid_field)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, http_exception_handler)
    app.add_exception_handler(Exception, _unexpected)
