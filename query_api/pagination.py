"""The list envelope `{count, next, previous, results}` with `page` and `page_size`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

from shared.http.errors import ApiError

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    count: int
    next: str | None
    previous: str | None
    results: list[ItemT]


@dataclass(frozen=True)
class PageRequest:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def check_exists(self, count: int) -> None:
        """A page past the last one is not found; page 1 of an empty list is an empty page."""
        if self.number > 1 and self.offset >= count:
            raise ApiError(404, "page_not_found", "Неправильная страница.")

    async def answer(
        self,
        request: Request,
        count: int,
        results: Callable[[], Awaitable[list[dict[str, Any]]]],
    ) -> dict[str, Any]:
        """The envelope of this page of `count` items; `results` runs only if it has some."""
        self.check_exists(count)
        following, preceding = self.links(request, count)
        items = await results() if count else []
        return {"count": count, "next": following, "previous": preceding, "results": items}

    def links(self, request: Request, count: int) -> tuple[str | None, str | None]:
        url = request.url
        following = (
            str(url.include_query_params(page=self.number + 1))
            if self.offset + self.size < count
            else None
        )
        if self.number == 1:
            preceding = None
        elif self.number == 2:
            preceding = str(url.remove_query_params("page"))
        else:
            preceding = str(url.include_query_params(page=self.number - 1))
        return following, preceding


async def page_request(
    page: Annotated[int, Query(ge=1, description="Номер страницы, с 1")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Размер страницы, до 100")
    ] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    return PageRequest(page, page_size)
