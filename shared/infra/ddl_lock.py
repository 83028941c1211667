"""The lock under which a process creates the event store's tables and functions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

# A session-level advisory lock ("evddl"); advisory locks are per database.
EVENT_STORE_DDL_LOCK_KEY = 0x65_76_64_64_6C


@contextmanager
def event_store_ddl_lock(database_url: str) -> Iterator[None]:
    """Held while a process creates the event store's schemas, tables and functions: the
    library's (the recorder's and the snapshots'), and the command API's own.

    Every process constructing the application does that at start, and processes start
    together (`board up`, Compose, command API replicas): PostgreSQL refuses two concurrent
    replacements of one function ("tuple concurrently updated") and two concurrent
    creations of one table (its row type's name is unique), which killed one of them at
    random.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (EVENT_STORE_DDL_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (EVENT_STORE_DDL_LOCK_KEY,))
