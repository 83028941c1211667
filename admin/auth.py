"""Staff sign-in for the admin: the same users and passwords as the API, its throttle, and
a session cookie that holds the user's id (and the CSRF token), nothing else.

Every request reads the user again from the write side, so staff who are demoted or
deactivated are signed out at their next click, not when a cookie expires.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool
from sqladmin.authentication import AuthenticationBackend
from sqladmin.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.csrf import has_valid_token
from command_api.throttle import LoginThrottle, TooManyAttempts
from shared.application.board import Board
from shared.application.passwords import PasswordsBusy
from shared.domain.errors import InvalidCredentials, UserNotFound
from shared.identity import Caller
from shared.settings import Settings

SESSION_COOKIE = "board_admin"
# A working day; every request checks the user anew anyway.
SESSION_SECONDS = 8 * 3600
_USER_KEY = "user_id"

NOT_STAFF = "Вход в администрирование — только для администраторов."
EXPIRED_FORM = "Форма устарела, попробуйте ещё раз."
PASSWORDS_BUSY = "Сервер занят проверкой других паролей, попробуйте через секунду."


def session_key(settings: Settings) -> str:
    """A key of its own for the admin's cookie, derived from the board's secret."""
    return hmac.new(
        settings.secret_key.encode(), b"event-board admin session", hashlib.sha256
    ).hexdigest()


def staff_of(request: Request) -> Caller:
    """The signed-in staff user, as `authenticate` found them for this request."""
    staff: Caller = request.state.staff
    return staff


class StaffAuthentication(AuthenticationBackend):
    def __init__(
        self,
        settings: Settings,
        board_of: Callable[[], Board],
        pool: ConnectionPool,
    ) -> None:
        super().__init__(
            session_key(settings),
            session_cookie=SESSION_COOKIE,
            path="/admin",
            same_site="strict",
            # Compose serves plain HTTP; TLS in front of it is the deployment's job (README).
            https_only=False,
            max_age=SESSION_SECONDS,
        )
        self._board_of = board_of
        self._pool = pool
        self.templates: Jinja2Templates | None = None

    async def login(self, request: Request) -> Response | bool:
        if not await has_valid_token(request):
            return await self._refused(request, EXPIRED_FORM, 403)
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        address = request.client.host if request.client else "unknown"
        board = self._board_of()
        throttle = LoginThrottle(self._pool, board.clock)
        try:
            user = await run_in_threadpool(
                throttle.authenticate, board, username, password, address
            )
        except TooManyAttempts as error:
            return await self._refused(request, error.detail, 429)
        except PasswordsBusy:
            return await self._refused(request, PASSWORDS_BUSY, 503)
        except InvalidCredentials as error:
            return await self._refused(request, error.detail, 400)
        if not user.is_staff:
            return await self._refused(request, NOT_STAFF, 403)
        request.session.clear()
        request.session[_USER_KEY] = str(user.id)
        return True

    async def logout(self, request: Request) -> Response | bool:
        request.session.clear()
        return RedirectResponse(request.url_for("admin:login"), status_code=302)

    async def authenticate(self, request: Request) -> Response | bool:
        user_id = request.session.get(_USER_KEY)
        if user_id is None:
            return False
        try:
            user = await run_in_threadpool(self._board_of().get_user, UUID(user_id))
        except (UserNotFound, ValueError):
            user = None
        if user is None or not (user.is_active and user.is_staff):
            request.session.clear()
            return False
        request.state.staff = Caller(user.id, user.username, is_staff=True)
        return True

    async def _refused(self, request: Request, message: str, status: int) -> Response:
        if self.templates is None:
            raise RuntimeError("the admin hands its templates to the backend when it is built")
        context: dict[str, Any] = {"error": message}
        return await self.templates.TemplateResponse(
            request, "sqladmin/login.html", context, status_code=status
        )
