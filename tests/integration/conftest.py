"""Fixtures of the integration tier: the query API over its real read model, and the whole
board in one process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import ASGIApp

from command_api.app import create_app as create_command_app
from gateway.app import create_app as create_gateway
from projections.read_models.events import EVENTS, matching_columns
from projections.store import child_statements
from query_api.app import create_app
from shared.application.board import Board
from shared.auth.access_store import AccessStore
from shared.clock import ManualClock
from shared.read_model.migrate import upgrade
from shared.read_model.schema import events
from shared.settings import Settings
from tests.integration.notifier_world import NotifierWorld, notifier_world
from tests.integration.outbox_feed import OutboxFeed

NOW = datetime.now(UTC).replace(microsecond=0)
ORGANIZER_ID = uuid4()

AddEvent = Callable[..., UUID]


@pytest.fixture
def read_settings(settings: Settings) -> Settings:
    upgrade(settings.database_url)
    return settings.model_copy(update={"consistency_wait_seconds": 1.0})


@pytest.fixture
def engine(read_settings: Settings) -> Iterator[Engine]:
    engine = create_engine(read_settings.sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def read_client(read_settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(read_settings)
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(app=manager.app), base_url="http://test") as client,
    ):
        yield client


async def raise_watermark(settings: Settings, position: int, *, notify: bool) -> None:
    """Move the events watermark to `position`, telling the read API's watcher if `notify`."""
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await conn.execute(
            "INSERT INTO read_model.watermarks (projection, position) VALUES ('events', %s)"
            " ON CONFLICT (projection) DO UPDATE SET position = EXCLUDED.position",
            (position,),
        )
        if notify:
            await conn.execute(
                "SELECT pg_notify('eventboard_watermark', %s)", (f"events:{position}",)
            )


@pytest.fixture
def add_event(engine: Engine) -> AddEvent:
    """Write a read-model row, and the counters it moves, as the projection would."""

    def add(**overrides: Any) -> UUID:
        row: dict[str, Any] = {
            "id": uuid4(),
            "version": 1,
            "position": 1,
            "title": "Концерт",
            "description": "Живая музыка",
            "start_time": NOW + timedelta(days=1),
            "timezone": "Europe/Moscow",
            "location": "Москва",
            "seats": 10,
            "booked_count": 3,
            "status": "upcoming",
            "organizer_id": ORGANIZER_ID,
            "organizer_username": "alice",
            "tags": ["музыка"],
            "rating_sum": 0,
            "rating_count": 0,
            "avg_rating": None,
            "created_at": NOW,
            "updated_at": NOW,
            **overrides,
        }
        stored = matching_columns(row)
        with engine.begin() as conn:
            conn.execute(events.insert().values(**stored))
            tables = {t.name: t for t in EVENTS.children}
            for statement, rows in child_statements(tables, EVENTS.on_change(None, stored)):
                conn.execute(statement, rows)
        event_id: UUID = row["id"]
        return event_id

    return add


# --- The whole board in one process: both APIs behind the gateway, read models fed live. ---

PASSWORD = "s3cret-pw"


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass(frozen=True)
class BoardApi:
    """HTTP to the gateway, and the command side's application for what has no endpoint yet;
    the gateway itself and its read API, for what a buffering HTTP client cannot show."""

    http: AsyncClient
    board: Board
    clock: ManualClock
    app: ASGIApp
    query_app: FastAPI

    async def register(self, username: str, password: str = PASSWORD, email: str = "") -> Response:
        return await self.http.post(
            "/api/users/register/",
            json={"username": username, "email": email, "password": password},
        )

    async def log_in(self, username: str, password: str = PASSWORD) -> Response:
        return await self.http.post(
            "/api/users/login/", json={"username": username, "password": password}
        )

    async def create_event(self, organizer: Account, **overrides: Any) -> Response:
        """An event created through the API (a lecture in Kazan unless `overrides` say else)."""
        body = {
            "title": "Лекция",
            "description": "О событиях",
            "start_time": "2030-12-01T18:00:00Z",
            "timezone": "Europe/Moscow",
            "location": "Казань",
            **overrides,
        }
        response = await self.http.post("/api/events/", json=body, headers=organizer.headers)
        assert response.status_code == 201, response.text
        return response

    async def account(self, username: str, *, staff: bool = False) -> Account:
        """A registered user (staff if asked), logged in."""
        registered = await self.register(username)
        assert registered.status_code == 201, registered.text
        user_id = registered.json()["id"]
        if staff:
            self.board.set_staff(UUID(user_id), is_staff=True)
        tokens = await self.log_in(username)
        assert tokens.status_code == 200, tokens.text
        return Account(user_id, username, tokens.json()["access"], tokens.json()["refresh"])


@pytest.fixture
def board_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def board_settings(settings: Settings) -> Settings:
    """The settings of `board_api`; a module may override this fixture to change some."""
    return settings


@pytest.fixture
async def board_api(board_settings: Settings, board_clock: ManualClock) -> AsyncIterator[BoardApi]:
    settings = board_settings
    upgrade(settings.database_url)
    access = AccessStore(settings)
    command_app = create_command_app(settings, clock=board_clock, access=access)
    query_app = create_app(settings, access=access)
    app = create_gateway(settings, command_app=command_app, query_app=query_app, access=access)
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=2)
    async with (
        LifespanManager(app) as manager,
        AsyncClient(transport=ASGITransport(app=manager.app), base_url="http://test") as http,
    ):
        # The command API's start-up has created the outbox by now.
        feed = OutboxFeed(engine)
        feeding = asyncio.create_task(feed.run())
        try:
            yield BoardApi(http, command_app.state.board, board_clock, manager.app, query_app)
        finally:
            feed.stop()
            await feeding
            await engine.dispose()


@pytest.fixture
async def world(settings: Settings, board_clock: ManualClock) -> AsyncIterator[NotifierWorld]:
    """The write side and the notifier's parts, with a clock the test moves."""
    async with notifier_world(settings, board_clock) as running:
        yield running
