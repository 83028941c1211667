"""Reading and writing projection state: rows, applied positions, parked messages."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from psycopg import AsyncConnection as AsyncConnection_
from psycopg.sql import SQL, Identifier
from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.folding import Envelope, Folded, Parked, Projection, Row, fold
from shared.read_model.schema import applied_positions, parked_messages


async def load_rows(
    conn: AsyncConnection, table: Table, ids: Collection[UUID], *, for_update: bool = False
) -> dict[UUID, Row]:
    if not ids:
        return {}
    query = select(table).where(table.c.id.in_(list(ids)))
    if for_update:
        query = query.with_for_update()
    result = await conn.execute(query)
    return {row.id: dict(row._mapping) for row in result}


async def write_rows(conn: AsyncConnection, table: Table, rows: Iterable[Row]) -> None:
    batch = list(rows)
    if not batch:
        return
    upsert = insert(table)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={c.name: upsert.excluded[c.name] for c in table.columns if c.name != "id"},
        ),
        batch,
    )


async def copy_rows(conn: AsyncConnection, table: Table, rows: Iterable[Row]) -> None:
    """Insert rows that do not exist yet with COPY, the fastest way into PostgreSQL."""
    columns = [c.name for c in table.columns]
    statement = SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=Identifier(*filter(None, (table.schema, table.name))),
        columns=SQL(", ").join(map(Identifier, columns)),
    )
    raw = await conn.get_raw_connection()
    driver = cast(AsyncConnection_[Any], raw.driver_connection)
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row([row[name] for name in columns])


async def parked_aggregates(
    conn: AsyncConnection, projection: str, ids: Collection[UUID]
) -> set[UUID]:
    if not ids:
        return set()
    result = await conn.scalars(
        select(parked_messages.c.aggregate_id)
        .distinct()
        .where(
            parked_messages.c.projection == projection,
            parked_messages.c.aggregate_id.in_(list(ids)),
        )
    )
    return set(result)


async def record_applied(conn: AsyncConnection, projection: str, positions: list[int]) -> None:
    if positions:
        await conn.execute(
            insert(applied_positions).on_conflict_do_nothing(),
            [{"projection": projection, "position": p} for p in positions],
        )


async def park(conn: AsyncConnection, projection: str, parked: Iterable[Parked]) -> None:
    now = datetime.now(UTC)
    batch = [
        {
            "projection": projection,
            "position": p.envelope.position,
            "aggregate_id": p.envelope.aggregate_id,
            "payload": p.envelope.encode(),
            "error": p.error,
            "parked_at": now,
        }
        for p in parked
    ]
    if batch:
        await conn.execute(insert(parked_messages).on_conflict_do_nothing(), batch)


async def apply_batch(
    conn: AsyncConnection, projection: Projection, envelopes: list[Envelope]
) -> Folded:
    """Apply messages to the live read model, with their progress, in the caller's transaction."""
    ids = {e.aggregate_id for e in envelopes}
    parked = await parked_aggregates(conn, projection.name, ids)
    rows = await load_rows(conn, projection.table, ids, for_update=True)
    folded = fold(projection, rows, parked, envelopes)
    await write_rows(conn, projection.table, folded.changed.values())
    await record_applied(conn, projection.name, folded.applied)
    await park(conn, projection.name, folded.parked)
    return folded
