"""`Idempotency-Key`: a write sent again with the same key gets the first answer again.

The first answer of a write that stored domain events is kept in
`event_store.idempotency_keys`, inserted by the recorder in the same transaction as those
events: either the write and its answer are both stored, or neither. A later request with
the same key from the same user within `RETENTION` finds it before doing anything; with a
different fingerprint (method, path, body) it is refused. While the first request runs, a
second one with its key is refused in the process (`InFlight`); across processes the second
one's insert of the key fails, its group runs again and then finds the first answer.

A write that stored nothing (refused, or a change to the same values) is not kept: sent
again, it is simply carried out again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from psycopg import Cursor
from psycopg.sql import SQL, Composed, Identifier

from shared.domain.errors import IdempotencyInProgress, IdempotencyKeyReused

# The key under which the application hands the answers to keep to the recorder.
IDEMPOTENCY_KWARG = "idempotency"
IDEMPOTENCY_TABLE = "idempotency_keys"
RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    position: int


class Replayed(Exception):
    """The request was answered before: this is that answer."""

    def __init__(self, response: StoredResponse) -> None:
        super().__init__(f"answered before with {response.status}")
        self.response = response


@dataclass(frozen=True)
class Idempotency:
    """A keyed write: who sent it, its key and fingerprint, and how its answer is rendered
    (status and body from the command's result) so it can be kept with the write."""

    user_id: UUID
    key: str
    fingerprint: str
    render: Callable[[Any], tuple[int, bytes]]


@dataclass(frozen=True)
class ResponseRecord:
    """An answer to keep; `event_index` is the write's last domain event among those saved,
    whose position the recorder knows only once they are inserted."""

    user_id: UUID
    key: str
    fingerprint: str
    status: int
    body: bytes
    created_at: datetime
    event_index: int


@dataclass(frozen=True)
class KeptResponse:
    fingerprint: str
    response: StoredResponse

    def replay_for(self, fingerprint: str) -> Replayed:
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused
        return Replayed(self.response)


class ResponseStore(Protocol):
    def find_response(self, user_id: UUID, key: str, not_before: datetime) -> KeptResponse | None:
        """The answer kept for the key since `not_before`, if any."""

    def prune_responses(self, before: datetime) -> None:
        """Forget answers kept before `before`."""


class InFlight:
    """The keys of this process's requests that are still running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[tuple[UUID, str]] = set()

    def claim(self, idempotency: Idempotency) -> Callable[[], None]:
        """Mark the key as running; returns the call that releases it."""
        claimed = (idempotency.user_id, idempotency.key)
        with self._lock:
            if claimed in self._running:
                raise IdempotencyInProgress
            self._running.add(claimed)

        def release() -> None:
            with self._lock:
                self._running.discard(claimed)

        return release


def idempotency_ddl(schema: str) -> list[Composed]:
    table = Identifier(schema, IDEMPOTENCY_TABLE)
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            " user_id uuid NOT NULL,"
            " key text NOT NULL,"
            " fingerprint text NOT NULL,"
            " status smallint NOT NULL,"
            " body bytea NOT NULL,"
            " position bigint NOT NULL,"
            " created_at timestamptz NOT NULL,"
            " PRIMARY KEY (user_id, key))"
        ).format(table=table),
        SQL(
            "CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON {table} (created_at)"
        ).format(table=table),
    ]


class PostgresResponses:
    """The statements on `idempotency_keys`; the recorder runs them."""

    def __init__(self, schema: str) -> None:
        table = Identifier(schema, IDEMPOTENCY_TABLE)
        # An expired answer under the key makes way; a live one makes the insert fail, which
        # rolls the whole transaction back (raising in Python would not: the library's
        # pipeline commits unless the database itself refused something).
        self._delete_expired = SQL(
            "DELETE FROM {table} WHERE user_id = %s AND key = %s AND created_at < %s"
        ).format(table=table)
        self._insert = SQL(
            "INSERT INTO {table} (user_id, key, fingerprint, status, body, position, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(table=table)
        self.select = SQL(
            "SELECT fingerprint, status, body, position FROM {table}"
            " WHERE user_id = %s AND key = %s AND created_at >= %s"
        ).format(table=table)
        self.prune = SQL("DELETE FROM {table} WHERE created_at < %s").format(table=table)

    def record(
        self, curs: Cursor[Any], records: Sequence[ResponseRecord], positions: Sequence[int]
    ) -> None:
        if not records:
            return
        curs.executemany(
            self._delete_expired,
            [(r.user_id, r.key, r.created_at - RETENTION) for r in records],
        )
        curs.executemany(
            self._insert,
            [
                (
                    r.user_id,
                    r.key,
                    r.fingerprint,
                    r.status,
                    r.body,
                    positions[r.event_index],
                    r.created_at,
                )
                for r in records
            ],
        )


def kept(row: Mapping[str, Any]) -> KeptResponse:
    response = StoredResponse(int(row["status"]), bytes(row["body"]), int(row["position"]))
    return KeptResponse(row["fingerprint"], response)
