"""The command API's own tables: login failures (throttling) and refresh tokens (rotation).

Kept in PostgreSQL, beside the event store, so throttling and rotation hold across
processes and restarts.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from shared.infra.database import ensure_schemas
from shared.infra.ddl_lock import event_store_ddl_lock
from shared.settings import EVENT_STORE_SCHEMA

_DDL = (
    "CREATE TABLE IF NOT EXISTS {schema}.login_failures ("
    " kind text NOT NULL, subject text NOT NULL, failed_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS login_failures_subject"
    " ON {schema}.login_failures (kind, subject, failed_at)",
    "CREATE TABLE IF NOT EXISTS {schema}.refresh_tokens ("
    " jti uuid PRIMARY KEY, user_id uuid NOT NULL,"
    " expires_at timestamptz NOT NULL, used_at timestamptz)",
    "CREATE INDEX IF NOT EXISTS refresh_tokens_user ON {schema}.refresh_tokens (user_id)",
)


def prepare_database(database_url: str) -> None:
    """What the command API writes besides the event store: the schemas, the access table
    every API reads, and its own tables of sessions."""
    # Each command API process prepares at start, and replicas start together.
    with event_store_ddl_lock(database_url):
        ensure_schemas(database_url)
        schema = sql.Identifier(EVENT_STORE_SCHEMA)
        with psycopg.connect(database_url, autocommit=True) as conn:
            for statement in _DDL:
                conn.execute(sql.SQL(statement).format(schema=schema))
