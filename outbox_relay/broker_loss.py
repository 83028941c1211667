"""Noticing, as the relay becomes active, that the broker lost what it was sent.

An embedded broker keeps nothing across a restart, and a real one can lose acknowledged
messages after an unclean leader election: its partitions' end offsets then fall below
the ends the relay recorded having sent. A consumer that had not read those messages yet
never will: offsets start again from zero, so what it reads afterwards looks complete,
and it cannot ask for what it never heard of (after a crash of the whole stack the
notifier received bookings whose events were gone, and told no one). So the relay asks
itself to send each such stream again, from the least watermark of the projections that
read it (from the start when one of them has none yet).
"""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from psycopg import Connection

from shared.integration.names import (
    EVENTS_PROJECTION,
    EVENTS_STREAM,
    NOTIFIER_PROJECTION,
    NOTIFIER_USERS_PROJECTION,
    USERS_PROJECTION,
    USERS_STREAM,
)
from shared.outbox.progress import REQUEST_RESEND, SENT_ENDS
from shared.read_model.watermarks import ALL_WATERMARKS_SQL, WATERMARKS_TABLE
from shared.settings import Settings

logger = logging.getLogger(__name__)

# The projections that read each stream: a resend starts below the least of their marks.
READERS = {
    EVENTS_STREAM: (EVENTS_PROJECTION, NOTIFIER_PROJECTION),
    USERS_STREAM: (USERS_PROJECTION, NOTIFIER_USERS_PROJECTION),
}
_WATERMARKS_EXIST = "SELECT to_regclass(%s) IS NOT NULL"


def request_resend_of_lost(conn: Connection[Any], settings: Settings) -> list[str]:
    """Ask for the streams the broker holds less of than it was sent; returns them."""
    recorded = conn.execute(SENT_ENDS).fetchall()
    if not recorded:
        return []
    try:
        held = _end_offsets(settings, [(settings.topic(s), p) for s, p, _ in recorded])
    except Exception:
        logger.exception("could not ask the broker what it holds; consumers will ask instead")
        return []
    lost = sorted(
        {
            stream
            for stream, partition, end in recorded
            if held.get((settings.topic(stream), partition), 0) < end
        }
    )
    if not lost:
        return []
    marks = _watermarks(conn)
    for stream in lost:
        after = min(marks.get(projection, 0) for projection in READERS.get(stream, ()))
        logger.warning(
            "the broker lost messages of %s; sending them again after position %d", stream, after
        )
        conn.execute(REQUEST_RESEND, {"stream": stream, "after": after})
    return lost


def _end_offsets(
    settings: Settings, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="board-outbox-relay-check",
        enable_auto_commit=False,
    )
    try:
        ends = consumer.end_offsets([TopicPartition(t, p) for t, p in partitions])
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


def _watermarks(conn: Connection[Any]) -> dict[str, int]:
    exists = conn.execute(_WATERMARKS_EXIST, (WATERMARKS_TABLE,)).fetchone()
    if exists is None or not exists[0]:
        return {}
    return {projection: position for projection, position in conn.execute(ALL_WATERMARKS_SQL)}
