"""How far the relay has published, per stream and partition: what the consumers measure
their own progress against.

The relay records, with each acknowledged batch and in the statement that marks its rows
published: the highest position it sent to each (stream, partition), the offset after it
there, and its head (every outbox row at or below it is published). It then tells the
consumers (`PUBLISHED_CHANNEL`), who fetch only partitions known to hold messages they have
not read, and who compute a projection's watermark from these rows and their own progress
without walking the outbox. A consumer that has read everything a partition holds but not
the positions the relay sent there (the broker lost them) asks for them again
(`resend_requests`, `RESEND_CHANNEL`).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from psycopg.sql import SQL, Composed, Identifier, Literal

from shared.integration.names import PUBLISHED_CHANNEL, RESEND_CHANNEL
from shared.settings import EVENT_STORE_SCHEMA

RELAY_PARTITIONS = "relay_partitions"
RELAY_HEAD = "relay_head"
RESEND_REQUESTS = "resend_requests"


def _table(name: str) -> Identifier:
    return Identifier(EVENT_STORE_SCHEMA, name)


def progress_ddl() -> list[Composed]:
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            " stream text NOT NULL, partition integer NOT NULL,"
            " position bigint NOT NULL, end_offset bigint NOT NULL,"
            " PRIMARY KEY (stream, partition))"
        ).format(table=_table(RELAY_PARTITIONS)),
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
            " position bigint NOT NULL)"
        ).format(table=_table(RELAY_HEAD)),
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            " stream text PRIMARY KEY, after_position bigint NOT NULL)"
        ).format(table=_table(RESEND_REQUESTS)),
    ]


class PublishedNotice(msgspec.Struct, frozen=True):
    """What one acknowledged batch made available: the relay's head, and per stream the
    offset after the last message sent to each partition it touched."""

    head: int
    ends: dict[str, dict[int, int]]

    def encode(self) -> str:
        return msgspec.json.encode(self).decode()

    @classmethod
    def decode(cls, payload: str) -> PublishedNotice:
        return msgspec.json.decode(payload, type=cls)


# Marks a batch published, records what it reached and tells the consumers: one statement,
# so the progress the consumers read is always that of rows marked published.
RECORD_PUBLISHED = SQL(
    "WITH marked AS ("
    "  UPDATE {outbox} SET published_at = now()"
    "  WHERE position = ANY(%(positions)s::bigint[]) AND published_at IS NULL"
    "), partitions AS ("
    "  INSERT INTO {partitions} AS sent (stream, partition, position, end_offset)"
    "  SELECT * FROM unnest("
    "    %(streams)s::text[], %(partition_numbers)s::integer[],"
    "    %(last_positions)s::bigint[], %(end_offsets)s::bigint[])"
    "  ON CONFLICT (stream, partition) DO UPDATE SET"
    "    position = greatest(sent.position, excluded.position),"
    "    end_offset = excluded.end_offset"
    "), head AS ("
    "  INSERT INTO {head} AS h (position) VALUES (%(head)s)"
    "  ON CONFLICT (singleton) DO UPDATE SET position = greatest(h.position, excluded.position)"
    ") SELECT pg_notify({channel}, %(notice)s)"
)


def record_published_sql(outbox: Identifier) -> Composed:
    return RECORD_PUBLISHED.format(
        outbox=outbox,
        partitions=_table(RELAY_PARTITIONS),
        head=_table(RELAY_HEAD),
        channel=Literal(PUBLISHED_CHANNEL),
    )


_SCHEMA = EVENT_STORE_SCHEMA
SENT_ENDS = f"SELECT stream, partition, end_offset FROM {_SCHEMA}.{RELAY_PARTITIONS}"

# A consumer's request: send the stream again after this position (the lowest asked wins).
REQUEST_RESEND = (
    f"WITH asked AS ("
    f"  INSERT INTO {_SCHEMA}.{RESEND_REQUESTS} AS r (stream, after_position)"
    f"  VALUES (%(stream)s, %(after)s)"
    f"  ON CONFLICT (stream) DO UPDATE"
    f"  SET after_position = least(r.after_position, excluded.after_position)"
    f") SELECT pg_notify('{RESEND_CHANNEL}', '')"
)

TAKE_RESEND_REQUESTS = SQL("DELETE FROM {table} RETURNING stream, after_position").format(
    table=_table(RESEND_REQUESTS)
)


def ends_by_stream(rows: list[tuple[str, int, int]]) -> Mapping[str, dict[int, int]]:
    ends: dict[str, dict[int, int]] = {}
    for stream, partition, end_offset in rows:
        ends.setdefault(stream, {})[partition] = end_offset
    return ends
