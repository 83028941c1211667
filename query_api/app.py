"""Composition root of the read API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from query_api import calendar, events, notifications, tags, users
from query_api.counts import CountCache
from query_api.feeds import Feeds
from query_api.listing_queries import ListingQueries
from query_api.notification_stream import StreamHub
from query_api.page_cache import PageCache
from query_api.watermarks import WatermarkWatcher
from shared.auth.access_store import AccessStore
from shared.auth.feed_tokens import FeedTokens
from shared.clock import Clock, SystemClock
from shared.http.app import create_api_app
from shared.infra.database import api_engine
from shared.settings import Settings

# The public listings whose anonymous pages are the same for everyone.
CACHED_LISTINGS = ("/api/events/", "/api/tags/")


def create_app(
    settings: Settings, clock: Clock | None = None, access: AccessStore | None = None
) -> FastAPI:
    """The read API; without an `access` store it opens one and closes it after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.engine = api_engine(settings, read_only=True)
            stack.push_async_callback(app.state.engine.dispose)
            app.state.access = access or await stack.enter_async_context(
                AccessStore(settings).running()
            )
            app.state.watermarks = WatermarkWatcher(settings.database_url)
            app.state.watermarks.start()
            stack.push_async_callback(app.state.watermarks.stop)
            app.state.counts = CountCache(settings.listing_cache_seconds, app.state.watermarks)
            app.state.listing_queries = ListingQueries()
            app.state.feeds = await stack.enter_async_context(
                Feeds.opened(settings, app.state.feed_tokens, app.state.engine)
            )
            app.state.stream_hub = StreamHub(settings.database_url, app.state.engine)
            app.state.stream_hub.start()
            stack.push_async_callback(app.state.stream_hub.stop)
            yield

    app = create_api_app(settings, title="Event Board — чтение", lifespan=lifespan)
    app.state.clock = clock or SystemClock()
    app.state.feed_tokens = FeedTokens.of(settings.secret_key)
    app.add_middleware(PageCache, paths=CACHED_LISTINGS, seconds=settings.listing_cache_seconds)
    app.include_router(events.router)
    app.include_router(tags.router)
    app.include_router(users.router)
    app.include_router(notifications.stream_router)
    app.include_router(notifications.router)
    app.include_router(calendar.router)
    return app
