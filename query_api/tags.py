"""Read endpoint of tags: every tag with how many events carry it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from query_api.deps import Pagination, ReadConnection
from query_api.pagination import Page
from query_api.read_router import read_router
from shared.integration.names import EVENTS_PROJECTION
from shared.read_model.views import events as views

router = read_router(
    "/api/tags",
    "tags",
    token_required=False,
    projection=EVENTS_PROJECTION,
    not_found="Нет такой страницы",
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
