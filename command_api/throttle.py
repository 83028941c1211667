"""Login throttling: too many failures for one username or one client address."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg_pool import ConnectionPool

from shared.clock import Clock
from shared.http.errors import RetryLater

WINDOW = timedelta(minutes=15)
LIMITS = {"username": 10, "address": 100}


class TooManyAttempts(RetryLater):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "too_many_attempts",
            "Слишком много неудачных попыток входа. Попробуйте позже.",
            retry_after_seconds,
        )


@dataclass(frozen=True)
class LoginThrottle:
    pool: ConnectionPool
    clock: Clock

    def check(self, username: str, address: str) -> None:
        """Refuse a login attempt while either subject is over its limit."""
        now = self.clock.now()
        with self.pool.connection() as conn:
            for kind, subject in self._subjects(username, address):
                row = conn.execute(
                    "SELECT count(*), min(failed_at) FROM event_store.login_failures"
                    " WHERE kind = %s AND subject = %s AND failed_at > %s",
                    (kind, subject, now - WINDOW),
                ).fetchone()
                if row is None or row[0] < LIMITS[kind]:
                    continue
                oldest: datetime = row[1]
                raise TooManyAttempts(max(1, math.ceil((oldest + WINDOW - now).total_seconds())))

    def record_failure(self, username: str, address: str) -> None:
        now = self.clock.now()
        with self.pool.connection() as conn:
            for kind, subject in self._subjects(username, address):
                conn.execute(
                    "DELETE FROM event_store.login_failures"
                    " WHERE kind = %s AND subject = %s AND failed_at <= %s",
                    (kind, subject, now - WINDOW),
                )
                conn.execute(
                    "INSERT INTO event_store.login_failures (kind, subject, failed_at)"
                    " VALUES (%s, %s, %s)",
                    (kind, subject, now),
                )

    def record_success(self, username: str) -> None:
        """A successful login forgives the username's failures, not the address's."""
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM event_store.login_failures WHERE kind = 'username' AND subject = %s",
                (username.casefold(),),
            )

    @staticmethod
    def _subjects(username: str, address: str) -> tuple[tuple[str, str], ...]:
        return (("username", username.casefold()), ("address", address))
