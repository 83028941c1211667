"""Composition root of the admin: the library's app over the read models, staff sign-in,
the action and operations pages, mounted at `/admin` on the gateway's app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from psycopg_pool import ConnectionPool
from sqladmin import Admin
from sqladmin.i18n import I18nConfig
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from admin.actions import StaffActions
from admin.auth import StaffAuthentication
from admin.csrf import SameOriginWrites, csrf_token
from admin.operations import Operations
from admin.replay import ReplayRunner
from admin.services import AdminServices
from admin.views import READ_MODEL_VIEWS
from shared.application.board import Board
from shared.settings import Settings

BASE_URL = "/admin"
TEMPLATES = Path(__file__).parent / "templates"


def read_only_engine(settings: Settings) -> AsyncEngine:
    """The admin reads the read models and never writes them: PostgreSQL refuses a write
    in any transaction this engine opens."""
    return create_async_engine(
        settings.sqlalchemy_url,
        connect_args={"options": "-c default_transaction_read_only=on -c timezone=UTC"},
        pool_size=2,
        max_overflow=2,
    )


class AdminSite:
    def __init__(self, settings: Settings, board_of: Callable[[], Board]) -> None:
        self.settings = settings
        self.engine = read_only_engine(settings)
        # Sign-in failures are counted in the API's own table, under its limits.
        self.pool = ConnectionPool(settings.database_url, min_size=1, max_size=2, open=False)
        self.replay = ReplayRunner(settings)
        self.authentication = StaffAuthentication(settings, board_of, self.pool)
        self.services = AdminServices(settings, board_of, self.replay)

    def mount_on(self, app: Starlette) -> None:
        admin = Admin(
            app,
            self.engine,
            base_url=BASE_URL,
            title="Event Board",
            templates_dir=str(TEMPLATES),
            middlewares=[Middleware(SameOriginWrites)],
            authentication_backend=self.authentication,
            # Russian, like the product, whatever the browser asks for.
            i18n_config=I18nConfig(
                default_locale="ru", language_cookie_name=None, language_header_name=None
            ),
        )
        admin.templates.env.globals["csrf_token"] = csrf_token
        self.authentication.templates = admin.templates
        for view in (*READ_MODEL_VIEWS, StaffActions, Operations):
            admin.add_view(view)
        admin.admin.state.services = self.services
        admin.admin.state.engine = self.engine

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await run_in_threadpool(self.pool.open)
        try:
            yield
        finally:
            await self.replay.stop()
            await run_in_threadpool(self.pool.close)
            await self.engine.dispose()
