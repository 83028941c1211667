"""Composition root of the read API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from query_api import events
from query_api.watermarks import WatermarkWatcher
from shared.http.app import create_api_app
from shared.settings import Settings

# A request waits this long for a pooled connection before answering 503.
POOL_TIMEOUT_SECONDS = 5.0


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_async_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=POOL_TIMEOUT_SECONDS,
        )
        app.state.watermarks = WatermarkWatcher(settings.database_url)
        app.state.watermarks.start()
        try:
            yield
        finally:
            await app.state.watermarks.stop()
            await app.state.engine.dispose()

    app = create_api_app(settings, title="Event Board — чтение", lifespan=lifespan)
    app.include_router(events.router)
    return app
