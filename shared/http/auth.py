"""Who is calling, from the `Authorization: Bearer <access>` header: the one place both APIs
ask, so a missing token (401), a bad one (401) and a revoked one (401) mean the same
everywhere."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from shared.auth.access_store import AccessStore
from shared.auth.tokens import InvalidToken, decode_access_token
from shared.http.errors import NotAuthenticated
from shared.identity import Caller
from shared.settings import Settings

LOGIN_PATH = "/api/users/login/"

# Declared for Swagger UI's "Authorize" button; a missing token is our own 401, not the scheme's.
bearer_token = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH, auto_error=False)


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def access_store(request: Request) -> AccessStore:
    store: AccessStore = request.app.state.access
    return store


async def optional_caller(
    request: Request, token: Annotated[str | None, Depends(bearer_token)]
) -> Caller | None:
    """The caller, or None for an anonymous request; a bad token is refused even here.

    The token says who; the write side's access table says whether that user may still
    call and with which rights, so a deactivation or a revoked staff right holds at once.
    An id the table does not know is refused, however well the token is signed: a
    database reset under a kept secret, or a secret that leaked, signs no one in.
    """
    if token is None:
        return None
    return await caller_of(token, app_settings(request), access_store(request))


async def caller_of(token: str, settings: Settings, access: AccessStore) -> Caller:
    """The caller a bearer token names, with their rights now; `InvalidToken` if none."""
    caller = decode_access_token(settings, token)
    allowed = await access.get(caller.id)
    if allowed is None or not allowed.is_active:
        raise InvalidToken
    return replace(caller, is_staff=allowed.is_staff)


async def current_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise NotAuthenticated
    return caller


CurrentUser = Annotated[Caller, Depends(current_caller)]
OptionalUser = Annotated[Caller | None, Depends(optional_caller)]
