"""Write endpoints of users and tokens: registration, login and token refresh."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from command_api.deps import BoardApp, ClientAddress, LoginCredentials, SessionsApp
from command_api.user_schemas import (
    Credentials,
    OAuth2Credentials,
    RefreshedTokens,
    RefreshRequest,
    RegisteredUser,
    Registration,
    TokenPairOut,
)
from shared.application.passwords import PasswordsBusy
from shared.http.errors import ErrorBody, error_response
from shared.integration.names import POSITION_HEADER

router = APIRouter(prefix="/api/users", tags=["users"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "База данных недоступна, или все проверки паролей заняты (service_busy)",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
BUSY_RETRY_AFTER_SECONDS = 1
_TOKEN_NOT_VALID: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Токен недействителен, просрочен или уже использован"},
}
# The body is read by `login_credentials`, so its two forms are documented by hand.
_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Credentials.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": OAuth2Credentials.model_json_schema()},
        },
    }
}


@router.post(
    "/register/",
    status_code=201,
    summary="Зарегистрироваться",
    responses={
        201: {"headers": {POSITION_HEADER: {"schema": {"type": "integer"}}}},
        400: {"model": ErrorBody, "description": "Имя или e-mail заняты, слабый пароль"},
        **_UNAVAILABLE,
    },
)
def register(body: Registration, board: BoardApp, response: Response) -> RegisteredUser:
    saved = board.register_user(username=body.username, email=body.email, password=body.password)
    response.headers[POSITION_HEADER] = str(saved.position)
    user = saved.aggregate
    return RegisteredUser(id=user.id, username=user.username, email=user.email)


@router.post(
    "/login/",
    summary="Войти: получить access- и refresh-токены",
    response_model_exclude_none=True,
    openapi_extra=_LOGIN_BODY,
    responses={
        400: {"model": ErrorBody, "description": "Ошибка валидации"},
        401: {"model": ErrorBody, "description": "Неверное имя пользователя или пароль"},
        429: {
            "model": ErrorBody,
            "description": "Слишком много неудачных попыток",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
        **_UNAVAILABLE,
    },
)
def log_in(
    credentials: LoginCredentials, sessions: SessionsApp, address: ClientAddress
) -> TokenPairOut:
    pair = sessions.log_in(credentials.username, credentials.password, address)
    oauth2 = isinstance(credentials, OAuth2Credentials)
    return TokenPairOut(
        access=pair.access, refresh=pair.refresh, access_token=pair.access if oauth2 else None
    )


@router.post(
    "/token/refresh/",
    summary="Обменять refresh-токен на новую пару",
    responses={**_TOKEN_NOT_VALID, **_UNAVAILABLE},
)
def refresh_tokens(body: RefreshRequest, sessions: SessionsApp) -> RefreshedTokens:
    pair = sessions.refresh(body.refresh)
    return RefreshedTokens(access=pair.access, refresh=pair.refresh)


async def passwords_busy(_request: Request, _error: Exception) -> Response:
    """A login or registration that found every turn to hash taken (`PasswordHasher`)."""
    assert isinstance(_error, PasswordsBusy)
    return error_response(
        503,
        "service_busy",
        "Сервер занят, повторите попытку позже.",
        {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )
