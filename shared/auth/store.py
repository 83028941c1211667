"""Write-side tables of authentication: login failures, refresh tokens and user access.

Kept in PostgreSQL so throttling, token rotation and revocation hold across processes and
restarts.
"""

from __future__ import annotations

from psycopg import Connection, sql

from shared.settings import EVENT_STORE_SCHEMA


def create_auth_tables(conn: Connection[object]) -> None:
    schema = sql.Identifier(EVENT_STORE_SCHEMA)
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.login_failures ("
            " kind text NOT NULL, subject text NOT NULL, failed_at timestamptz NOT NULL)"
        ).format(schema=schema)
    )
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS login_failures_subject"
            " ON {schema}.login_failures (kind, subject, failed_at)"
        ).format(schema=schema)
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.refresh_tokens ("
            " jti uuid PRIMARY KEY, user_id uuid NOT NULL,"
            " expires_at timestamptz NOT NULL, used_at timestamptz)"
        ).format(schema=schema)
    )
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS refresh_tokens_user ON {schema}.refresh_tokens (user_id)"
        ).format(schema=schema)
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.user_access ("
            " user_id uuid PRIMARY KEY, is_staff boolean NOT NULL, is_active boolean NOT NULL,"
            " version integer NOT NULL, position bigint NOT NULL)"
        ).format(schema=schema)
    )
