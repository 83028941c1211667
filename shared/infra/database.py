"""Creating what the stores need before any process uses them."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.auth.access import create_user_access_table
from shared.outbox.progress import progress_ddl
from shared.settings import EVENT_STORE_SCHEMA, READ_SCHEMA, Settings

logger = logging.getLogger(__name__)

# A request waits this long for a pooled connection before answering 503.
POOL_TIMEOUT_SECONDS = 5.0


def ensure_schemas(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for schema in (EVENT_STORE_SCHEMA, READ_SCHEMA):
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        create_user_access_table(conn)
        for statement in progress_ddl():
            conn.execute(statement)
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


def async_engine(url: str, **options: Any) -> AsyncEngine:
    """An async SQLAlchemy engine whose pool does not roll back the connections it takes back.

    Every use here ends its own transaction before the connection goes back (`begin()`
    commits or rolls back, a `connect()` block rolls back on close, autocommit engines
    have none), so the pool's reset only did it again, through the async adapter: ~0.3 ms
    of Python per checkout. A projector batch of one message cost 1.25-1.35 ms without it
    against 1.54-1.84 ms with it (interleaved, in isolation).
    `tests/integration/test_engine_pool.py` checks that connections come back idle.
    """
    return create_async_engine(url, pool_reset_on_return=None, **options)


def api_engine(settings: Settings, *, read_only: bool = False) -> AsyncEngine:
    """The async pool an API process uses.

    A `read_only` one runs each statement on its own (autocommit: no BEGIN or ROLLBACK
    round trips around a request's reads) and never opens connections beyond its size:
    reads hold one only while a query runs, so a burst is better queued than served by
    connections that are opened and closed again, each a new server process with cold
    caches.
    """
    return async_engine(
        settings.sqlalchemy_url,
        # Times come back in UTC, as the API answers them, whatever the server's zone.
        connect_args={"options": "-c timezone=UTC"},
        pool_size=settings.db_pool_size,
        max_overflow=0 if read_only else settings.db_pool_size,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        isolation_level="AUTOCOMMIT" if read_only else "READ COMMITTED",
    )


def api_pool(settings: Settings) -> ConnectionPool:
    """The blocking pool of an API's synchronous endpoints (run in worker threads)."""
    return ConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=settings.db_pool_size,
        timeout=POOL_TIMEOUT_SECONDS,
        open=True,
    )
