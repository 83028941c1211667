"""Logging in and refreshing: checking credentials and handing out token pairs.

Refresh tokens rotate: each is stored by its `jti` and can be spent once, in the same
transaction that stores its successor, so a stolen token that was already used is
worthless and a failed refresh never burns the client's token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from psycopg import Connection
from psycopg_pool import ConnectionPool

from command_api.throttle import LoginThrottle
from shared.application.board import Board
from shared.auth.tokens import (
    InvalidToken,
    decode_refresh_token,
    issue_access_token,
    issue_refresh_token,
)
from shared.domain.errors import UserNotFound
from shared.domain.user import User
from shared.settings import EVENT_STORE_SCHEMA

_SPEND = (
    f"UPDATE {EVENT_STORE_SCHEMA}.refresh_tokens SET used_at = %s"
    " WHERE jti = %s AND user_id = %s AND used_at IS NULL"
)
_FORGET_EXPIRED = (
    f"DELETE FROM {EVENT_STORE_SCHEMA}.refresh_tokens WHERE user_id = %s AND expires_at < %s"
)
_STORE = (
    f"INSERT INTO {EVENT_STORE_SCHEMA}.refresh_tokens (jti, user_id, expires_at)"
    " VALUES (%s, %s, %s)"
)


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


class Sessions:
    def __init__(self, board: Board, pool: ConnectionPool) -> None:
        self._board = board
        self._pool = pool
        self._throttle = LoginThrottle(pool, board.clock)

    def log_in(self, username: str, password: str, address: str) -> TokenPair:
        """Tokens for the user with these credentials; every attempt counts towards
        throttling until it succeeds."""
        user = self._throttle.authenticate(self._board, username, password, address)
        with self._pool.connection() as conn:
            return self._issue(conn, user)

    def refresh(self, token: str) -> TokenPair:
        """A new pair for a refresh token that was never spent, of a user still active."""
        presented = decode_refresh_token(self._board.settings, token)
        with self._pool.connection() as conn:
            spent = conn.execute(
                _SPEND, (datetime.now(UTC), presented.jti, presented.user_id)
            ).rowcount
            if spent != 1:
                raise InvalidToken
            # Raising here rolls the spending back: the client may try again.
            return self._issue(conn, self._active_user(presented.user_id))

    def _active_user(self, user_id: UUID) -> User:
        try:
            user = self._board.get_user(user_id)
        except UserNotFound:
            raise InvalidToken from None
        if not user.is_active:
            raise InvalidToken
        return user

    def _issue(self, conn: Connection[object], user: User) -> TokenPair:
        settings = self._board.settings
        now = datetime.now(UTC)
        refresh = issue_refresh_token(settings, user.id, uuid4(), now=now)
        # Each login or refresh tidies the user's own expired tokens, so the table stays small.
        conn.execute(_FORGET_EXPIRED, (user.id, now))
        conn.execute(_STORE, (refresh.jti, user.id, refresh.expires_at))
        access = issue_access_token(settings, user.id, user.username, user.is_staff, now=now)
        return TokenPair(access=access, refresh=refresh.token)
