"""Tokens of users the write side knows, for tests that are not about registering.

The APIs refuse a token whose user the access table does not know, however well signed;
registering a user through the API costs a password hash, so these tests write the access
row the registration would have written (version 0: any real save of the user replaces it).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import psycopg

from shared.auth.tokens import issue_access_token
from shared.settings import EVENT_STORE_SCHEMA, Settings

_KNOWN = f"""
INSERT INTO {EVENT_STORE_SCHEMA}.user_access (user_id, is_staff, is_active, version, position)
VALUES (%s, %s, true, 0, 0)
ON CONFLICT (user_id) DO UPDATE SET is_staff = EXCLUDED.is_staff WHERE user_access.version = 0
"""


def known_token(
    settings: Settings,
    user_id: UUID,
    username: str,
    is_staff: bool = False,
    *,
    now: datetime | None = None,
) -> str:
    """An access token of a user the access table knows, with these rights."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(_KNOWN, (user_id, is_staff))
    return issue_access_token(settings, user_id, username, is_staff, now=now)


def known_bearer(
    settings: Settings, user_id: UUID, username: str, is_staff: bool = False
) -> dict[str, str]:
    return {"Authorization": f"Bearer {known_token(settings, user_id, username, is_staff)}"}
