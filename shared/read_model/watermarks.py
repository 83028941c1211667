"""Watermarks: the position up to which a projection reflects every event.

`X-Min-Position: n` is answered from here. Messages arrive per partition, not in
global order, so a projection records the positions it applied and
`advance_watermark` walks the outbox in position order over every position that is
applied, parked or meant for another projection, stopping at the first that is none
of these. The outbox commits in position order (the event store's table lock), so a
position missing from it was rolled back and costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, MetaData, Table, Text, and_, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.integration.names import WATERMARK_CHANNEL
from shared.outbox.recorder import OUTBOX_TABLE
from shared.read_model.schema import applied_positions, parked_messages, watermarks
from shared.settings import EVENT_STORE_SCHEMA

# The event store owns the outbox; only the columns the walk reads are described here.
outbox = Table(
    OUTBOX_TABLE,
    MetaData(schema=EVENT_STORE_SCHEMA),
    Column("position", BigInteger, primary_key=True),
    Column("stream", Text, nullable=False),
)


# Every projection's watermark, as plain SQL for the processes that speak psycopg (the read
# API's watcher, the relay's pruning): one statement, one spelling of the table.
WATERMARKS_TABLE = watermarks.fullname
ALL_WATERMARKS_SQL = f"SELECT projection, position FROM {WATERMARKS_TABLE}"


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


async def advance_watermark(conn: AsyncConnection, projection: str, streams: Sequence[str]) -> int:
    """Move the watermark as far as it may go; return it. Runs in the caller's transaction.

    Also forgets the applied positions it passed and notifies `WATERMARK_CHANNEL` (on
    commit) when it moved.
    """
    start = await read_watermark(conn, projection)
    later = outbox.c.position > start
    first_pending = (
        select(outbox.c.position)
        .where(
            later,
            outbox.c.stream.in_(streams),
            ~exists().where(
                and_(
                    applied_positions.c.projection == projection,
                    applied_positions.c.position == outbox.c.position,
                )
            ),
            ~exists().where(
                and_(
                    parked_messages.c.projection == projection,
                    parked_messages.c.position == outbox.c.position,
                )
            ),
        )
        .order_by(outbox.c.position)
        .limit(1)
        .scalar_subquery()
    )
    reachable = await conn.scalar(
        select(func.max(outbox.c.position)).where(
            later, (outbox.c.position < first_pending) | first_pending.is_(None)
        )
    )
    if reachable is None:
        # The row exists from the first walk on, so the relay's pruning waits for this projection.
        await conn.execute(
            insert(watermarks)
            .values(projection=projection, position=start)
            .on_conflict_do_nothing()
        )
        return start
    reached = int(reachable)
    await _store(conn, projection, reached)
    await conn.execute(
        applied_positions.delete().where(
            applied_positions.c.projection == projection,
            applied_positions.c.position <= reached,
        )
    )
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": WATERMARK_CHANNEL, "payload": f"{projection}:{reached}"},
    )
    return reached


async def _store(conn: AsyncConnection, projection: str, position: int) -> None:
    # Several workers may advance one projection at once; the watermark never goes back.
    upsert = insert(watermarks).values(projection=projection, position=position)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[watermarks.c.projection],
            set_={"position": func.greatest(watermarks.c.position, upsert.excluded.position)},
        )
    )
