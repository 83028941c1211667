"""Composition root of the read API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from query_api import events, notifications, tags, users
from query_api.watermarks import WatermarkWatcher
from shared.auth.access_store import AccessStore
from shared.clock import Clock, SystemClock
from shared.http.app import create_api_app
from shared.infra.database import api_engine
from shared.settings import Settings


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = api_engine(settings)
        app.state.access = AccessStore(app.state.engine)
        app.state.watermarks = WatermarkWatcher(settings.database_url)
        app.state.watermarks.start()
        try:
            yield
        finally:
            await app.state.watermarks.stop()
            await app.state.engine.dispose()

    app = create_api_app(settings, title="Event Board — чтение", lifespan=lifespan)
    app.state.clock = clock or SystemClock()
    app.include_router(events.router)
    app.include_router(tags.router)
    app.include_router(users.router)
    app.include_router(notifications.router)
    return app
