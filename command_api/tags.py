"""Write endpoint of tags."""

from __future__ import annotations

from fastapi import APIRouter, Response

from command_api.deps import BoardApp
from command_api.schemas import TagCreate, TagOut
from command_api.writes import KEYED_WRITE_ERRORS, Answer, IdempotencyKey, respond
from shared.http.auth import CurrentUser
from shared.http.errors import ErrorBody

router = APIRouter(prefix="/api/tags", tags=["tags"])


def _created(name: str) -> Answer:
    return Answer(201, TagOut(name=name))


@router.post(
    "/",
    status_code=201,
    summary="Создать тег",
    response_model=TagOut,
    responses={
        401: {"model": ErrorBody, "description": "Нет токена или токен недействителен"},
        503: {"model": ErrorBody, "description": "База данных недоступна"},
        **KEYED_WRITE_ERRORS,
    },
)
async def create_tag(
    body: TagCreate, _caller: CurrentUser, board: BoardApp, key: IdempotencyKey
) -> Response:
    created = board.create_tag.submit(body.name, idempotency=key.rendering(_created))
    return await respond(created, _created)
