"""Read endpoints of users: who the caller is, from the users read model."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from query_api.deps import ReadConnection, fresh_read_of, wait_until_reflected
from shared.domain.errors import UserNotFound
from shared.http.auth import CurrentUser, access_store, current_caller
from shared.http.errors import ErrorBody
from shared.http.events import UtcDatetime
from shared.identity import Caller
from shared.integration.names import USERS_PROJECTION
from shared.read_model.views import users as user_views

router = APIRouter(
    prefix="/api/users",
    tags=["users"],
    responses={
        401: {"model": ErrorBody, "description": "Нет токена или токен недействителен"},
        503: {"model": ErrorBody, "description": "Чтение отстаёт или база недоступна"},
    },
)


class Profile(BaseModel):
    id: UUID
    username: str
    email: str
    is_staff: bool
    date_joined: UtcDatetime


async def own_record_reflected(request: Request, caller: CurrentUser) -> Caller:
    """The caller, once the users read model reflects the caller's own last change.

    The write side records the position of each user's last domain event with their
    rights, so `/me/` answers right after registering and logging in, and shows a change
    of rights as soon as it is made, without the client passing a position.
    """
    access = await access_store(request).get(caller.id)
    if access is not None:
        await wait_until_reflected(request, USERS_PROJECTION, access.position)
    return caller


@router.get(
    "/me/",
    summary="Текущий пользователь",
    response_model=Profile,
    # Who calls is settled first: a bad or missing token is answered 401 at once.
    dependencies=[Depends(current_caller), Depends(fresh_read_of(USERS_PROJECTION))],
    responses={404: {"model": ErrorBody, "description": "Пользователь не найден"}},
)
async def me(
    caller: Annotated[Caller, Depends(own_record_reflected)], conn: ReadConnection
) -> dict[str, Any]:
    profile = await user_views.user_profile(conn, caller.id)
    if profile is None:
        raise UserNotFound
    return profile
