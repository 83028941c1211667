"""Login throttling: too many failed attempts for one username or one client address.

An attempt is counted before its password is checked, not after: checking takes a hash's
time (about 100 ms), and a burst of parallel guesses that were all let through before any
of them failed would each get its guess. Each subject's count is read and raised under a
lock of its own, so parallel attempts are counted one after the other. A row of
`login_failures` is an attempt that has not (yet) succeeded; a success takes its rows back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from shared.application.board import Board
from shared.application.passwords import PasswordsBusy
from shared.clock import Clock
from shared.domain.user import User
from shared.http.errors import RetryLater

WINDOW = timedelta(minutes=15)
LIMITS = {"username": 10, "address": 100}

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
_COUNT = (
    "SELECT count(*), min(failed_at) FROM event_store.login_failures"
    " WHERE kind = %s AND subject = %s AND failed_at > %s"
)
_EXPIRE = (
    "DELETE FROM event_store.login_failures WHERE kind = %s AND subject = %s AND failed_at <= %s"
)
_COUNT_ATTEMPT = (
    "INSERT INTO event_store.login_failures (kind, subject, failed_at) VALUES (%s, %s, %s)"
)
# One row of the attempt: others of the same subject may carry the same time.
_TAKE_BACK = (
    "DELETE FROM event_store.login_failures WHERE ctid = ("
    " SELECT ctid FROM event_store.login_failures"
    " WHERE kind = %s AND subject = %s AND failed_at = %s LIMIT 1)"
)
_FORGIVE_USERNAME = (
    "DELETE FROM event_store.login_failures WHERE kind = 'username' AND subject = %s"
)


class TooManyAttempts(RetryLater):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "too_many_attempts",
            "Слишком много неудачных попыток входа. Попробуйте позже.",
            retry_after_seconds,
        )


@dataclass(frozen=True)
class Attempt:
    """A counted login attempt, taken back if it succeeds or is never checked."""

    username: str
    address: str
    at: datetime

    @property
    def subjects(self) -> tuple[tuple[str, str], ...]:
        return (("username", self.username.casefold()), ("address", self.address))


@dataclass(frozen=True)
class LoginThrottle:
    pool: ConnectionPool
    clock: Clock

    def attempt(self, username: str, address: str) -> Attempt:
        """Count a login attempt, or refuse it while either subject is over its limit."""
        attempt = Attempt(username, address, self.clock.now())
        with self.pool.connection() as conn, conn.transaction():
            # Always in the same order (username, then address): no two attempts deadlock.
            for kind, subject in attempt.subjects:
                conn.execute(_LOCK, (f"login:{kind}:{subject}",))
                self._refuse_if_over(conn, kind, subject, attempt.at)
            for kind, subject in attempt.subjects:
                conn.execute(_EXPIRE, (kind, subject, attempt.at - WINDOW))
                conn.execute(_COUNT_ATTEMPT, (kind, subject, attempt.at))
        return attempt

    def succeeded(self, attempt: Attempt) -> None:
        """A successful login forgives the username's failures; for the address it was no
        failure, but the address's earlier failures stay."""
        with self.pool.connection() as conn:
            conn.execute(_FORGIVE_USERNAME, (attempt.username.casefold(),))
            conn.execute(_TAKE_BACK, ("address", attempt.address, attempt.at))

    def take_back(self, attempt: Attempt) -> None:
        """An attempt whose password was never checked (the server was busy) counts for
        nothing."""
        with self.pool.connection() as conn:
            for kind, subject in attempt.subjects:
                conn.execute(_TAKE_BACK, (kind, subject, attempt.at))

    def authenticate(self, board: Board, username: str, password: str, address: str) -> User:
        """The user with these credentials, the attempt counted before the password is
        checked (so parallel guesses cannot all pass) and taken back if the check never
        ran (`PasswordsBusy`, re-raised)."""
        attempt = self.attempt(username, address)
        try:
            user = board.authenticate(username, password)
        except PasswordsBusy:
            self.take_back(attempt)
            raise
        self.succeeded(attempt)
        return user

    @staticmethod
    def _refuse_if_over(
        conn: Connection[tuple[Any, ...]], kind: str, subject: str, now: datetime
    ) -> None:
        row = conn.execute(_COUNT, (kind, subject, now - WINDOW)).fetchone()
        if row is None or row[0] < LIMITS[kind]:
            return
        oldest: datetime = row[1]
        raise TooManyAttempts(max(1, math.ceil((oldest + WINDOW - now).total_seconds())))
