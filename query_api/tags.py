"""Read endpoint of tags: every tag with how many events carry it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from query_api.deps import Pagination, ReadConnection, fresh_read_of
from query_api.pagination import Page
from shared.http.auth import optional_caller
from shared.http.errors import ErrorBody
from shared.integration.names import EVENTS_PROJECTION
from shared.read_model.views import events as views

router = APIRouter(
    prefix="/api/tags",
    tags=["tags"],
    dependencies=[Depends(optional_caller), Depends(fresh_read_of(EVENTS_PROJECTION))],
    responses={
        401: {"model": ErrorBody, "description": "Токен недействителен"},
        404: {"model": ErrorBody, "description": "Нет такой страницы"},
        503: {"model": ErrorBody, "description": "Чтение отстаёт или база недоступна"},
    },
)


class TagItem(BaseModel):
    name: str
    events_count: int


@router.get("/", summary="Теги, самые используемые первыми", response_model=Page[TagItem])
async def list_tags(request: Request, pages: Pagination, conn: ReadConnection) -> dict[str, Any]:
    return await pages.answer(
        request,
        await views.count_tags(conn),
        lambda: views.list_tags(conn, offset=pages.offset, limit=pages.size),
    )
