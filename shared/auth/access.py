"""Whether a user's tokens still work, and with which rights: the write side's word, at once.

A token is signed once and lives for minutes, while an admin may deactivate a user or
revoke staff at any moment. So the recorder keeps one row per user in
`event_store.user_access`, written in the same transaction as the user's domain events,
and both APIs read it for every authenticated request (`shared.auth.access_store`): a
deactivation or a change of rights holds from the commit on, with no projection in between.

This module is what the recorder needs, so every process that writes stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import Connection, Cursor

from shared.domain.user import User
from shared.integration.names import ACCESS_CHANNEL
from shared.settings import EVENT_STORE_SCHEMA

# The key under which the application hands the users it saves to the recorder.
USER_ACCESS_KWARG = "user_access"

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {EVENT_STORE_SCHEMA}.user_access (
    user_id uuid PRIMARY KEY, is_staff boolean NOT NULL, is_active boolean NOT NULL,
    version integer NOT NULL, position bigint NOT NULL)
"""
_UPSERT = f"""
INSERT INTO {EVENT_STORE_SCHEMA}.user_access (user_id, is_staff, is_active, version, position)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (user_id) DO UPDATE SET
    is_staff = EXCLUDED.is_staff, is_active = EXCLUDED.is_active,
    version = EXCLUDED.version, position = EXCLUDED.position
WHERE user_access.version < EXCLUDED.version
"""


@dataclass(frozen=True)
class UserAccess:
    """A saved user's rights, as the recorder stores them."""

    user_id: UUID
    is_staff: bool
    is_active: bool
    version: int

    @classmethod
    def of(cls, user: User) -> UserAccess:
        return cls(user.id, user.is_staff, user.is_active, user.version)


@dataclass(frozen=True)
class Access:
    """A user's rights as the APIs read them; `position` is their last stored domain event."""

    is_staff: bool
    is_active: bool
    position: int


_NOTIFY = f"SELECT pg_notify('{ACCESS_CHANNEL}', %s)"


def create_user_access_table(conn: Connection[Any]) -> None:
    conn.execute(_CREATE)


def record_user_access(
    curs: Cursor[Any],
    accesses: Sequence[UserAccess],
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
) -> None:
    """Store the rights of the users saved in this transaction, with their last position."""
    last_position: dict[UUID | str, int] = {}
    for stored, position in zip(stored_events, positions, strict=True):
        last_position[stored.originator_id] = position
    rows = [
        (a.user_id, a.is_staff, a.is_active, a.version, last_position[a.user_id])
        for a in accesses
        if a.user_id in last_position
    ]
    if rows:
        curs.executemany(_UPSERT, rows)
        # Delivered on commit: every API process forgets what it cached of these users.
        curs.executemany(_NOTIFY, [(str(row[0]),) for row in rows])
