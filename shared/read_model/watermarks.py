"""Watermarks: the position up to which a projection reflects every event.

`X-Min-Position: n` is answered from here. Messages arrive per partition, not in global
order, so a single "last position applied" says nothing about the positions in between.
Instead each projection records, per (stream, partition) it consumes, the highest position
it applied there (`projection_partitions`); a partition delivers in position order, so
every position below it in that partition is applied too. The relay records, per
partition, the highest position it sent there, and its head: every outbox row at or below
it is published (`shared/outbox/progress.py`). So every published position up to the
relay's head is reflected, except in a partition the projection has not caught up on,
where only what it applied is: the watermark is the least of the head and the positions
applied in the partitions still behind. Positions of streams a projection does not read
cost it nothing, and no statement walks the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.integration.names import WATERMARK_CHANNEL
from shared.outbox.progress import RELAY_HEAD, RELAY_PARTITIONS
from shared.read_model.schema import projection_partitions, watermarks
from shared.settings import EVENT_STORE_SCHEMA

# Every projection's watermark, as plain SQL for the processes that speak psycopg (the read
# API's watcher, the relay's pruning): one statement, one spelling of the table.
WATERMARKS_TABLE = watermarks.fullname
ALL_WATERMARKS_SQL = f"SELECT projection, position FROM {WATERMARKS_TABLE}"

# (stream, partition) → the highest position applied there.
Progress = Mapping[tuple[str, int], int]

# The partitions of a projection's streams where the relay sent positions beyond the
# highest it applied there (`new` holds progress the same statement records).
_BEHIND = f"""
    SELECT sent.stream, sent.partition,
           greatest(coalesce(applied.position, 0), coalesce(new.position, 0)) AS position
    FROM {EVENT_STORE_SCHEMA}.{RELAY_PARTITIONS} sent
    LEFT JOIN {projection_partitions.fullname} applied
      ON applied.projection = :projection
     AND applied.stream = sent.stream AND applied.partition = sent.partition
    LEFT JOIN new ON new.stream = sent.stream AND new.partition = sent.partition
    WHERE sent.stream = ANY(CAST(:streams AS text[]))
      AND greatest(coalesce(applied.position, 0), coalesce(new.position, 0)) < sent.position
"""
_NEW_PROGRESS = """
    SELECT * FROM unnest(
        CAST(:new_streams AS text[]), CAST(:new_partitions AS integer[]),
        CAST(:new_positions AS bigint[])) AS new (stream, partition, position)
"""
_PARTITIONS_BEHIND = text(f"WITH new AS ({_NEW_PROGRESS}) {_BEHIND}")

# One statement: record the progress a batch made, compute the watermark with it, store
# that (never backwards), and tell waiting readers if it moved.
_ADVANCE = text(
    f"""
WITH new AS ({_NEW_PROGRESS}), recorded AS (
    INSERT INTO {projection_partitions.fullname} AS applied
        (projection, stream, partition, position)
    SELECT :projection, stream, partition, position FROM new
    ON CONFLICT (projection, stream, partition) DO UPDATE
    SET position = greatest(applied.position, excluded.position)
), behind AS ({_BEHIND}), reached AS (
    SELECT coalesce(
        least((SELECT position FROM {EVENT_STORE_SCHEMA}.{RELAY_HEAD}),
              (SELECT min(position) FROM behind)),
        0) AS position
), before AS (
    SELECT position FROM {WATERMARKS_TABLE} WHERE projection = :projection
), stored AS (
    INSERT INTO {WATERMARKS_TABLE} AS mark (projection, position)
    SELECT :projection, position FROM reached
    ON CONFLICT (projection) DO UPDATE SET position = greatest(mark.position, excluded.position)
    RETURNING position
)
SELECT stored.position,
       CASE WHEN stored.position > coalesce((SELECT position FROM before), -1)
            THEN pg_notify(:channel, :projection || ':' || stored.position) END
FROM stored
"""
)


def _progress_params(progress: Progress) -> dict[str, list[Any]]:
    return {
        "new_streams": [stream for stream, _ in progress],
        "new_partitions": [partition for _, partition in progress],
        "new_positions": list(progress.values()),
    }


async def read_watermark(conn: AsyncConnection, projection: str) -> int:
    """The projection's watermark; 0 before it has one."""
    position = await conn.scalar(
        select(watermarks.c.position).where(watermarks.c.projection == projection)
    )
    return int(position or 0)


async def current_watermark(
    source: AsyncEngine | AsyncConnection, projection: str = "events"
) -> int:
    """`read_watermark` for callers holding an engine (the query API) or a connection."""
    if isinstance(source, AsyncConnection):
        return await read_watermark(source, projection)
    async with source.connect() as conn:
        return await read_watermark(conn, projection)


def parse_watermark_notice(payload: str) -> tuple[str, int]:
    """The projection and position of a notification on `WATERMARK_CHANNEL`."""
    projection, _, position = payload.rpartition(":")
    return projection, int(position)


async def partitions_behind(
    conn: AsyncConnection, projection: str, streams: Sequence[str]
) -> list[tuple[str, int, int]]:
    """(stream, partition, highest position applied) of each partition where the relay
    sent more than the projection applied."""
    params = {"projection": projection, "streams": list(streams), **_progress_params({})}
    rows = await conn.execute(_PARTITIONS_BEHIND, params)
    return [(row.stream, row.partition, row.position) for row in rows]


async def advance_watermark(
    conn: AsyncConnection, projection: str, streams: Sequence[str], progress: Progress | None = None
) -> int:
    """Record `progress` (the highest position applied in each partition) and move the
    watermark as far as the progress recorded lets it; return it. Runs in the caller's
    transaction (and tells `WATERMARK_CHANNEL` on commit when it moved)."""
    statement, params = watermark_advance(projection, streams, progress)
    row = (await conn.execute(statement, params)).first()
    return 0 if row is None else int(row[0])


def watermark_advance(
    projection: str, streams: Sequence[str], progress: Progress | None = None
) -> tuple[TextClause, dict[str, Any]]:
    """`advance_watermark`'s statement and parameters, for a caller that sends it along
    with others and needs no answer."""
    return _ADVANCE, {
        "projection": projection,
        "streams": list(streams),
        "channel": WATERMARK_CHANNEL,
        **_progress_params(progress or {}),
    }
