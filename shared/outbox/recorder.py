"""The event store recorder that writes the outbox in the same transaction as the events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from shared.integration import IntegrationEvent, encode_message

OUTBOX_TABLE = "outbox"
OUTBOX_CHANNEL = "eventboard_outbox"
OUTBOX_KWARG = "outbox"


def outbox_ddl(schema: str) -> list[Composed]:
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
            " position bigint PRIMARY KEY,"
            " event_id uuid NOT NULL,"
            " stream text NOT NULL,"
            " key text NOT NULL,"
            " type text NOT NULL,"
            " payload bytea NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " published_at timestamptz)"
        ).format(schema=Identifier(schema), table=Identifier(OUTBOX_TABLE)),
        SQL(
            "CREATE INDEX IF NOT EXISTS outbox_unpublished ON {schema}.{table} (position)"
            " WHERE published_at IS NULL"
        ).format(schema=Identifier(schema), table=Identifier(OUTBOX_TABLE)),
    ]


class OutboxRecorder(PostgresApplicationRecorder):
    """Adds one outbox row per stored public domain event, inside the library's transaction.

    The rows are inserted in `_fetch_ids_after_insert_events`, which runs after the
    events' notification ids exist and while the table lock is still held, so the
    outbox position is the event's global position and outbox order is commit order.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.extend(outbox_ddl(datastore.schema))
        self._insert_outbox = SQL(
            "INSERT INTO {schema}.{table} (position, event_id, stream, key, type, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
        ).format(schema=Identifier(datastore.schema), table=Identifier(OUTBOX_TABLE))

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        integration_events: Sequence[IntegrationEvent | None] = kwargs.get(OUTBOX_KWARG, ())
        if not integration_events:
            return ids
        if ids is None or len(ids) != len(integration_events):
            raise RuntimeError("every stored domain event needs its entry in the outbox list")
        rows = [
            (position, e.id, e.stream, e.key, e.type, encode_message(e.to_message(position)))
            for position, e in zip(ids, integration_events, strict=True)
            if e is not None
        ]
        if not rows:
            return ids
        curs.executemany(self._insert_outbox, rows)
        curs.execute(SQL("NOTIFY {0}").format(Identifier(OUTBOX_CHANNEL)))
        return ids
