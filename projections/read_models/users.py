"""The `users` read model: one row per user, as `/api/users/me/` shows them.

Password hashes never leave the event store, so a `user.password_changed` has no handler:
it only moves the row's version on.
"""

from __future__ import annotations

from projections.folding import Projection, Row, setting
from shared.integration.envelope import Envelope
from shared.integration.names import USERS_PROJECTION, USERS_STREAM
from shared.read_model.schema import users


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


USERS = Projection(
    name=USERS_PROJECTION,
    table=users,
    streams=(USERS_STREAM,),
    handlers={
        "user.registered": registered,
        "user.staff_granted": setting(is_staff=True),
        "user.staff_revoked": setting(is_staff=False),
        "user.deactivated": setting(is_active=False),
        "user.reactivated": setting(is_active=True),
    },
    creates=frozenset({"user.registered"}),
)
