"""The `users` read model: one row per user, as `/api/users/me/` shows them.

Password hashes never leave the event store, so a `user.password_changed` has no handler:
it only moves the row's version on.
"""

from __future__ import annotations

from typing import Any

from projections.folding import Envelope, Handler, Projection, Row
from shared.read_model.schema import users
from shared.settings import USERS_STREAM

USERS_PROJECTION = "users"


def registered(envelope: Envelope, row: Row | None) -> Row:
    data = envelope.data
    return {
        "id": envelope.aggregate_id,
        "username": data["username"],
        "email": data["email"],
        "is_staff": bool(data["is_staff"]),
        "is_active": True,
        "date_joined": envelope.occurred_at,
    }


def setting(**values: Any) -> Handler:
    """A handler that sets these columns of an existing row."""

    def handle(envelope: Envelope, row: Row | None) -> Row:
        if row is None:
            raise ValueError(f"{envelope.type} needs the row it changes")
        return {**row, **values}

    return handle


USERS = Projection(
    name=USERS_PROJECTION,
    table=users,
    streams=(USERS_STREAM,),
    handlers={
        "user.registered": registered,
        "user.staff_granted": setting(is_staff=True),
        "user.staff_revoked": setting(is_staff=False),
        "user.deactivated": setting(is_active=False),
    },
    creates=frozenset({"user.registered"}),
)
