"""Who is calling, from the `Authorization: Bearer <access>` header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from shared.auth.tokens import decode_access_token
from shared.http.errors import NotAuthenticated
from shared.identity import Caller
from shared.settings import Settings

LOGIN_PATH = "/api/users/login/"

# Declared for Swagger UI's "Authorize" button; a missing token is our own 401, not the scheme's.
bearer_token = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH, auto_error=False)


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def optional_caller(
    request: Request, token: Annotated[str | None, Depends(bearer_token)]
) -> Caller | None:
    """The caller, or None for an anonymous request; a bad token is refused even here."""
    if token is None:
        return None
    return decode_access_token(app_settings(request), token)


async def current_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise NotAuthenticated
    return caller
