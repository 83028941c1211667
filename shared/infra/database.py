"""Creating what the stores need before any process uses them."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from shared.auth.store import create_auth_tables
from shared.settings import EVENT_STORE_SCHEMA, READ_SCHEMA, Settings

logger = logging.getLogger(__name__)


def ensure_schemas(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for schema in (EVENT_STORE_SCHEMA, READ_SCHEMA):
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        create_auth_tables(conn)
        folded = conn.execute("SELECT lower('МОСКВА')").fetchone()
        if folded is None or folded[0] != "москва":
            # Matching folds in Python anyway; this only warns that SQL lower() is not to be used.
            logger.warning("the database's locale does not fold Cyrillic case in SQL")


def event_store_env(settings: Settings) -> dict[str, str]:
    """The library's settings for the Board application on PostgreSQL with the outbox."""
    return {
        **settings.eventsourcing_env(),
        "APPLICATION_RECORDER_TOPIC": "shared.outbox.recorder:OutboxRecorder",
    }
