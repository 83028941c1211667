"""Reading and writing projection state: rows, their children, parked messages."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from psycopg import AsyncConnection as AsyncConnection_
from psycopg.sql import SQL, Identifier
from sqlalchemy import Column, Executable, Select, Table, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.folding import (
    Add,
    ChildWrite,
    Folded,
    Parked,
    Projection,
    Put,
    Remove,
    Row,
    fold,
)
from shared.integration.envelope import Envelope
from shared.read_model.schema import parked_messages

logger = logging.getLogger(__name__)


# Statements are built once per table (and shape) and kept: building one costs a batch of a
# few messages more Python than running it (measured with py-spy on the projector).


def written_columns(table: Table) -> list[Column[Any]]:
    """The columns a projection writes; PostgreSQL computes the generated ones itself."""
    return [c for c in table.columns if c.computed is None]


@cache
def _rows_by_id(table: Table, for_update: bool) -> Select[Any]:
    query = select(*written_columns(table)).where(table.c.id.in_(bindparam("ids", expanding=True)))
    return query.with_for_update() if for_update else query


@cache
def _upsert_rows(table: Table) -> Executable:
    upsert = insert(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={c.name: upsert.excluded[c.name] for c in written_columns(table) if c.name != "id"},
    )


async def load_rows(
    conn: AsyncConnection, table: Table, ids: Collection[UUID], *, for_update: bool = False
) -> dict[UUID, Row]:
    if not ids:
        return {}
    result = await conn.execute(_rows_by_id(table, for_update), {"ids": list(ids)})
    return {row.id: dict(row._mapping) for row in result}


async def write_rows(conn: AsyncConnection, table: Table, rows: Iterable[Row]) -> None:
    batch = list(rows)
    if batch:
        await conn.execute(_upsert_rows(table), batch)


async def copy_rows(conn: AsyncConnection, table: Table, rows: Iterable[Row]) -> None:
    """Insert rows that do not exist yet with COPY, the fastest way into PostgreSQL."""
    columns = [c.name for c in written_columns(table)]
    statement = SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=Identifier(*filter(None, (table.schema, table.name))),
        columns=SQL(", ").join(map(Identifier, columns)),
    )
    raw = await conn.get_raw_connection()
    driver = cast(AsyncConnection_[Any], raw.driver_connection)
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row([row[name] for name in columns])


Statement = tuple[Executable, list[dict[str, Any]]]


async def write_children(
    conn: AsyncConnection, tables: Mapping[str, Table], writes: Iterable[ChildWrite]
) -> None:
    """Apply child writes, in order; one statement per table and kind of write."""
    for statement, rows in child_statements(tables, writes):
        await conn.execute(statement, rows)


def child_statements(tables: Mapping[str, Table], writes: Iterable[ChildWrite]) -> list[Statement]:
    """The statements that apply `writes`: the last `Put`/`Remove` of each key wins, and
    the `Add`s of one key are summed."""
    latest: dict[str, dict[tuple[Any, ...], Put | Remove]] = {}
    added: dict[str, dict[tuple[Any, ...], Add]] = {}
    for write in writes:
        table = tables[write.table]
        if isinstance(write, Add):
            key = _key_of(table, write.key)
            earlier = added.setdefault(write.table, {}).get(key)
            added[write.table][key] = write if earlier is None else _summed(earlier, write)
        else:
            row = write.values if isinstance(write, Put) else write.key
            latest.setdefault(write.table, {})[_key_of(table, row)] = write
    statements: list[Statement] = []
    for name, latest_by_key in latest.items():
        statements += _put_and_remove(tables[name], list(latest_by_key.values()))
    for name, added_by_key in added.items():
        statements.append(_add(tables[name], list(added_by_key.values())))
    return statements


def _key_of(table: Table, row: Row) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _summed(earlier: Add, later: Add) -> Add:
    amounts = dict(earlier.amounts)
    for column, amount in later.amounts.items():
        amounts[column] = amounts.get(column, 0) + amount
    return Add(earlier.table, earlier.key, amounts, {**later.defaults, **earlier.defaults})


def _put_and_remove(table: Table, writes: list[Put | Remove]) -> list[Statement]:
    key_columns = [c.name for c in table.primary_key.columns]
    statements: list[Statement] = []
    removed = [w.key for w in writes if isinstance(w, Remove)]
    if removed:
        statements.append(
            (
                _delete_by_key(table),
                [{f"k_{name}": key[name] for name in key_columns} for key in removed],
            )
        )
    put = [dict(w.values) for w in writes if isinstance(w, Put)]
    if put:
        statements.append((_upsert_children(table, tuple(put[0])), put))
    return statements


@cache
def _delete_by_key(table: Table) -> Executable:
    return delete(table).where(*(c == bindparam(f"k_{c.name}") for c in table.primary_key.columns))


@cache
def _upsert_children(table: Table, columns: tuple[str, ...]) -> Executable:
    upsert = insert(table)
    return upsert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={c: upsert.excluded[c] for c in columns if c not in table.primary_key.c},
    )


def _add(table: Table, writes: list[Add]) -> Statement:
    rows = [{**w.defaults, **w.key, **w.amounts} for w in writes]
    counters = tuple(sorted({column for w in writes for column in w.amounts}))
    return _add_to_counters(table, counters), rows


@cache
def _add_to_counters(table: Table, counters: tuple[str, ...]) -> Executable:
    upsert = insert(table)
    return upsert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={c: table.c[c] + upsert.excluded[c] for c in counters},
    )


_PARKED_AGGREGATES = (
    select(parked_messages.c.aggregate_id)
    .distinct()
    .where(
        parked_messages.c.projection == bindparam("projection"),
        parked_messages.c.aggregate_id.in_(bindparam("ids", expanding=True)),
    )
)


async def parked_aggregates(
    conn: AsyncConnection, projection: str, ids: Collection[UUID]
) -> set[UUID]:
    if not ids:
        return set()
    result = await conn.scalars(_PARKED_AGGREGATES, {"projection": projection, "ids": list(ids)})
    return set(result)


# The aggregate a message is parked under when it cannot be read at all.
UNREADABLE = UUID(int=0)


async def park(conn: AsyncConnection, projection: str, parked: Iterable[Parked]) -> None:
    """Set messages aside, and say so: each is work a reader will miss until ops act."""
    await _park(
        conn,
        projection,
        [
            (p.envelope.position, p.envelope.aggregate_id, p.envelope.encode(), p.error)
            for p in parked
        ],
    )


async def park_unreadable(
    conn: AsyncConnection, projection: str, position: int, payload: bytes, error: str
) -> None:
    """Set aside a message whose value cannot be read, under the position its header gave."""
    await _park(conn, projection, [(position, UNREADABLE, payload, error)])


async def _park(
    conn: AsyncConnection, projection: str, parked: list[tuple[int, UUID, bytes, str]]
) -> None:
    for position, aggregate_id, _payload, error in parked:
        logger.error("%s: parked position %d of %s: %s", projection, position, aggregate_id, error)
    now = datetime.now(UTC)
    batch = [
        {
            "projection": projection,
            "position": position,
            "aggregate_id": aggregate_id,
            "payload": payload,
            "error": error,
            "parked_at": now,
        }
        for position, aggregate_id, payload, error in parked
    ]
    if batch:
        await conn.execute(insert(parked_messages).on_conflict_do_nothing(), batch)


async def apply_batch(
    conn: AsyncConnection, projection: Projection, envelopes: list[Envelope]
) -> Folded:
    """Apply messages to the live read model in the caller's transaction."""
    ids = {e.aggregate_id for e in envelopes}
    parked = await parked_aggregates(conn, projection.name, ids)
    rows = await load_rows(conn, projection.table, ids, for_update=True)
    folded = fold(projection, rows, parked, envelopes)
    await write_rows(conn, projection.table, folded.changed.values())
    await write_children(conn, {t.name: t for t in projection.children}, folded.writes)
    await park(conn, projection.name, folded.parked)
    return folded
