"""Dependencies of the read endpoints, as `Annotated` aliases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from query_api.pagination import PageRequest, page_request
from query_api.watermarks import WatermarkWatcher
from shared.clock import Clock
from shared.http.auth import app_settings
from shared.http.errors import ApiError
from shared.integration.names import MAX_POSITION, MIN_POSITION_HEADER


def app_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        yield conn


async def wait_until_reflected(request: Request, projection: str, position: int) -> None:
    """Return once `projection` reflects `position`; 503 `projection_lagging` if that takes long."""
    if not position:
        return
    watcher: WatermarkWatcher = request.app.state.watermarks
    try:
        async with asyncio.timeout(app_settings(request).consistency_wait_seconds):
            await watcher.reached(projection, position)
    except TimeoutError:
        raise ApiError(
            503,
            "projection_lagging",
            "Данные ещё не обновились, повторите запрос позже.",
            {"Retry-After": "1"},
        ) from None


async def asked_position(
    min_position: Annotated[
        int | None,
        Header(
            alias=MIN_POSITION_HEADER,
            ge=0,
            le=MAX_POSITION,
            description="Дождаться, пока чтение отразит все события до этой позиции.",
        ),
    ] = None,
) -> int:
    """The position the client asks the read to reflect; 0 when it asks for none."""
    return min_position or 0


def fresh_read_of(projection: str) -> Callable[..., Awaitable[None]]:
    """A dependency that waits until `projection` reflects the position the client asks for."""

    async def wait_for_position(
        request: Request, position: Annotated[int, Depends(asked_position)]
    ) -> None:
        await wait_until_reflected(request, projection, position)

    return wait_for_position


ReadConnection = Annotated[AsyncConnection, Depends(read_connection)]
Pagination = Annotated[PageRequest, Depends(page_request)]
AskedPosition = Annotated[int, Depends(asked_position)]
