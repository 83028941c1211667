"""One relay step: the next unpublished outbox rows, sent in position order, then marked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from psycopg import Connection
from psycopg.sql import SQL, Identifier

from outbox_relay.producer import OutgoingMessage, send_all
from shared.outbox.recorder import OUTBOX_TABLE
from shared.settings import EVENT_STORE_SCHEMA, Settings

logger = logging.getLogger(__name__)

OUTBOX = Identifier(EVENT_STORE_SCHEMA, OUTBOX_TABLE)
SELECT_UNPUBLISHED = SQL(
    "SELECT position, stream, key, payload FROM {outbox}"
    " WHERE published_at IS NULL ORDER BY position LIMIT %s"
).format(outbox=OUTBOX)
MARK_PUBLISHED = SQL(
    "UPDATE {outbox} SET published_at = now() WHERE position = ANY(%s::bigint[])"
).format(outbox=OUTBOX)


class OutboxPublisher:
    """Publishes the outbox over one connection and one producer.

    Whoever calls it holds the relay lock. A row is marked published only after the
    broker acknowledged it, so a crash in between sends it again: at least once.
    """

    def __init__(self, conn: Connection[Any], producer: KafkaProducer, settings: Settings) -> None:
        if not conn.autocommit:
            raise ValueError("the publisher marks rows in autocommit mode, one statement a batch")
        self._conn = conn
        self._producer = producer
        self._settings = settings

    def publish_pending(self) -> int:
        """Publish the next batch of unpublished rows; return how many were published."""
        rows = self._conn.execute(
            SELECT_UNPUBLISHED, (self._settings.relay_batch_size,), binary=True
        ).fetchall()
        if not rows:
            return 0
        send_all(
            self._producer,
            (
                OutgoingMessage(self._settings.topic(stream), key.encode(), payload)
                for _position, stream, key, payload in rows
            ),
        )
        positions = [position for position, *_ in rows]
        self._mark_published(positions)
        logger.debug("published outbox positions %d..%d", positions[0], positions[-1])
        return len(positions)

    def _mark_published(self, positions: Sequence[int]) -> None:
        self._conn.execute(MARK_PUBLISHED, (list(positions),))
