"""Read endpoints of users: who the caller is, from the users read model."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from pydantic import BaseModel

from query_api.deps import ReadConnection, wait_until_reflected
from query_api.read_router import read_router
from shared.domain.errors import UserNotFound
from shared.http.auth import CurrentUser, access_store
from shared.http.errors import ErrorBody
from shared.http.events import UtcDatetime
from shared.identity import Caller
from shared.integration.names import USERS_PROJECTION
from shared.read_model.views import users as user_views

router = read_router("/api/users", "users", token_required=True, projection=USERS_PROJECTION)


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
    responses={404: {"model": ErrorBody, "description": "Пользователь не найден"}},
)
async def me(
    caller: Annotated[Caller, Depends(own_record_reflected)], conn: ReadConnection
) -> dict[str, Any]:
    profile = await user_views.user_profile(conn, caller.id)
    if profile is None:
        raise UserNotFound
    return profile
