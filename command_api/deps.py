"""Dependencies of the write endpoints, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from command_api.sessions import Sessions
from command_api.user_schemas import Credentials, OAuth2Credentials
from shared.application.board import Board


async def board_app(request: Request) -> Board:
    board: Board = request.app.state.board
    return board


async def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


async def client_address(request: Request) -> str:
    """The real client's address: the peer of the connection, which the server in front sets
    from `X-Forwarded-For` only for a request from the trusted gateway (uvicorn's
    `--forwarded-allow-ips`); `board serve` trusts no one."""
    return request.client.host if request.client else "unknown"


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


async def login_credentials(request: Request) -> Credentials:
    """Credentials as JSON, or as the OAuth2 password form that Swagger UI sends."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if content_type == FORM_CONTENT_TYPE:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            return OAuth2Credentials.model_validate(form)
        return Credentials.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None


BoardApp = Annotated[Board, Depends(board_app)]
SessionsApp = Annotated[Sessions, Depends(sessions_of)]
ClientAddress = Annotated[str, Depends(client_address)]
LoginCredentials = Annotated[Credentials, Depends(login_credentials)]
