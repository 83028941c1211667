"""Composition root of the write API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from command_api import calendar_feeds, events, notifications, tags, users
from command_api.session_tables import prepare_database
from command_api.sessions import Sessions
from command_api.writes import replayed
from shared.application.board import Board
from shared.application.idempotency import Replayed
from shared.application.passwords import PasswordsBusy
from shared.auth.access_store import AccessStore
from shared.auth.feed_tokens import FeedTokens
from shared.clock import Clock
from shared.http.app import create_api_app
from shared.infra.database import api_engine, api_pool, event_store_env
from shared.settings import Settings


def open_board(settings: Settings, clock: Clock | None) -> Board:
    prepare_database(settings.database_url)
    return Board(settings, clock, env=event_store_env(settings))


def create_app(
    settings: Settings,
    board: Board | None = None,
    clock: Clock | None = None,
    access: AccessStore | None = None,
) -> FastAPI:
    """The write API; without a `board` (or an `access` store) it opens one and closes it
    after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if board is None:
                app.state.board = await run_in_threadpool(open_board, settings, clock)
                stack.push_async_callback(run_in_threadpool, app.state.board.close)
            else:
                app.state.board = board
            pool = api_pool(settings)
            stack.push_async_callback(run_in_threadpool, pool.close)
            app.state.engine = api_engine(settings)
            stack.push_async_callback(app.state.engine.dispose)
            app.state.sessions = Sessions(app.state.board, pool)
            app.state.access = access or await stack.enter_async_context(
                AccessStore(settings).running()
            )
            # Its own saves are forgotten before they are answered, not when told.
            app.state.board.on_access_changed.append(app.state.access.forget)
            stack.callback(app.state.board.on_access_changed.remove, app.state.access.forget)
            yield

    app = create_api_app(settings, title="Event Board — команды", lifespan=lifespan)
    app.include_router(events.router)
    app.include_router(tags.router)
    app.add_exception_handler(Replayed, replayed)
    app.include_router(users.router)
    app.add_exception_handler(PasswordsBusy, users.passwords_busy)
    app.include_router(notifications.router)
    app.include_router(calendar_feeds.router)
    app.state.feed_tokens = FeedTokens.of(settings.secret_key)
    return app
