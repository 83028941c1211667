"""The event store recorder that writes the outbox (and the users' access, and the answers
of keyed writes) in the same transaction as the events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from shared.application.idempotency import (
    IDEMPOTENCY_KWARG,
    KeptResponse,
    PostgresResponses,
    idempotency_ddl,
    kept,
)
from shared.auth.access import USER_ACCESS_KWARG, record_user_access
from shared.integration.envelope import encode_message
from shared.integration.events import IntegrationEvent
from shared.integration.names import OUTBOX_CHANNEL

OUTBOX_TABLE = "outbox"
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
        self.sql_create_statements.extend(idempotency_ddl(datastore.schema))
        self._responses = PostgresResponses(datastore.schema)
        self._select_history = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {schema}.{table} WHERE originator_id = %s ORDER BY originator_version"
        ).format(schema=Identifier(datastore.schema), table=Identifier(events_table_name))
        self._insert_outbox = SQL(
            "INSERT INTO {schema}.{table} (position, event_id, stream, key, type, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
        ).format(schema=Identifier(datastore.schema), table=Identifier(OUTBOX_TABLE))

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids is not None:
            record_user_access(curs, kwargs.get(USER_ACCESS_KWARG, ()), stored_events, ids)
            self._responses.record(curs, kwargs.get(IDEMPOTENCY_KWARG, ()), ids)
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

    def find_response(self, user_id: UUID, key: str, not_before: datetime) -> KeptResponse | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._responses.select, (user_id, key, not_before), prepare=True)
            row = curs.fetchone()
        return None if row is None else kept(row)

    def prune_responses(self, before: datetime) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._responses.prune, (before,))

    def aggregate_notifications(self, originator_id: UUID) -> list[Notification]:
        """Every stored domain event of one aggregate, in order, with its global position."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_history, (originator_id,))
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]
