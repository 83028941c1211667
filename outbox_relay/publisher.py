"""One relay step: the next outbox rows sent in position order, then marked and recorded."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from psycopg import Connection
from psycopg.sql import SQL, Identifier

from outbox_relay.producer import OutgoingMessage, Sent, send_all
from shared.outbox.progress import (
    TAKE_RESEND_REQUESTS,
    PublishedNotice,
    record_published_sql,
)
from shared.outbox.recorder import OUTBOX_TABLE
from shared.settings import EVENT_STORE_SCHEMA, Settings

logger = logging.getLogger(__name__)

OUTBOX = Identifier(EVENT_STORE_SCHEMA, OUTBOX_TABLE)
SELECT_UNPUBLISHED = SQL(
    "SELECT position, stream, key, payload FROM {outbox}"
    " WHERE published_at IS NULL ORDER BY position LIMIT %s"
).format(outbox=OUTBOX)
SELECT_PUBLISHED_AFTER = SQL(
    "SELECT position, stream, key, payload FROM {outbox}"
    " WHERE stream = %s AND position > %s AND published_at IS NOT NULL"
    " ORDER BY position LIMIT %s"
).format(outbox=OUTBOX)
RECORD_PUBLISHED = record_published_sql(OUTBOX)

Row = tuple[int, str, str, bytes]


def record_sent(
    conn: Connection[Any], rows: Sequence[Row], sent: Sequence[Sent], *, head: int
) -> PublishedNotice:
    """Mark `rows` published and record where they went, in one statement that also tells
    the consumers; `head` is the position every row up to which is published (0: unchanged)."""
    params, notice = sent_record(rows, sent, head=head)
    conn.execute(RECORD_PUBLISHED, params)
    return notice


def sent_record(
    rows: Sequence[Row], sent: Sequence[Sent], *, head: int
) -> tuple[dict[str, Any], PublishedNotice]:
    """The parameters of `RECORD_PUBLISHED` for these rows, and the notice it sends."""
    last: dict[tuple[str, int], tuple[int, int]] = {}
    for (position, stream, _key, _payload), where in zip(rows, sent, strict=True):
        last[(stream, where.partition)] = (position, where.end_offset)
    ends: dict[str, dict[int, int]] = {}
    for (stream, partition), (_, end_offset) in last.items():
        ends.setdefault(stream, {})[partition] = end_offset
    notice = PublishedNotice(head=head, ends=ends)
    params = {
        "positions": [row[0] for row in rows],
        "streams": [stream for stream, _ in last],
        "partition_numbers": [partition for _, partition in last],
        "last_positions": [position for position, _ in last.values()],
        "end_offsets": [end_offset for _, end_offset in last.values()],
        "head": head,
        "notice": notice.encode(),
    }
    return params, notice


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
        rows: list[Row] = self._conn.execute(
            SELECT_UNPUBLISHED, (self._settings.relay_batch_size,), binary=True
        ).fetchall()
        if rows:
            # Rows are read in position order and the outbox commits in that order, so the
            # last of a batch is a head: every row below it is published now.
            self._record(rows, self._send(rows), head=rows[-1][0])
            logger.debug("published outbox positions %d..%d", rows[0][0], rows[-1][0])
        return len(rows)

    def resend_requested(self) -> int:
        """Send again what consumers asked for (the broker lost it); return how many."""
        requests = self._conn.execute(TAKE_RESEND_REQUESTS).fetchall()
        sent = 0
        for stream, after in requests:
            logger.warning("resending %s after position %d, which a consumer lacks", stream, after)
            batch = (stream, after, self._settings.relay_batch_size)
            while rows := self._conn.execute(SELECT_PUBLISHED_AFTER, batch, binary=True).fetchall():
                self._record(rows, self._send(rows), head=0)
                sent += len(rows)
                batch = (stream, rows[-1][0], self._settings.relay_batch_size)
        return sent

    def _record(self, rows: Sequence[Row], sent: Sequence[Sent], *, head: int) -> None:
        record_sent(self._conn, rows, sent, head=head)

    def _send(self, rows: Sequence[Row]) -> list[Sent]:
        return send_all(
            self._producer,
            (
                OutgoingMessage(self._settings.topic(stream), key.encode(), payload, position)
                for position, stream, key, payload in rows
            ),
        )
