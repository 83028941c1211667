"""Reading and writing projection state: rows, their children, parked messages."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from psycopg import AsyncConnection as AsyncConnection_
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier
from sqlalchemy import (
    Column,
    ColumnElement,
    Executable,
    Select,
    Table,
    any_,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ClauseElement

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


def _any_id(column: Column[Any]) -> ColumnElement[bool]:
    """`column = ANY(:ids)`: one array parameter, so the text is the same for any number of
    ids and can be compiled once for the driver (an expanding `IN` is rendered per count)."""
    return column == any_(bindparam("ids", type_=ARRAY(column.type)))


@cache
def _rows_by_id(table: Table, for_update: bool) -> Select[Any]:
    query = select(*written_columns(table)).where(_any_id(table.c.id))
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
    await run_pipelined(conn, _row_statements(table, rows))


def _row_statements(table: Table, rows: Iterable[Row]) -> list[Statement]:
    batch = list(rows)
    return [(_upsert_rows(table), batch)] if batch else []


async def copy_rows(conn: AsyncConnection, table: Table, rows: Iterable[Row]) -> None:
    """Insert rows that do not exist yet with COPY, the fastest way into PostgreSQL."""
    columns = [c.name for c in written_columns(table)]
    statement = SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=Identifier(*filter(None, (table.schema, table.name))),
        columns=SQL(", ").join(map(Identifier, columns)),
    )
    driver = await _driver(conn)
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row([row[name] for name in columns])


Statement = tuple[Executable, list[dict[str, Any]]]


async def _driver(conn: AsyncConnection) -> AsyncConnection_[Any]:
    """The psycopg connection under `conn`, in the same transaction."""
    raw = await conn.get_raw_connection()
    return cast(AsyncConnection_[Any], raw.driver_connection)


# The dialect's class is untyped in SQLAlchemy.
_DIALECT: Dialect = cast(Any, psycopg_dialect)()


async def run_pipelined(conn: AsyncConnection, statements: Sequence[Statement]) -> None:
    """Run statements whose results nobody reads, in the connection's transaction, on its
    psycopg connection in one pipeline: one round trip for all of them.

    Through SQLAlchemy's async adapter each statement was a round trip and ~0.4 ms of
    Python; a projector's batch of one message spent most of its time there."""
    statements = [(statement, rows) for statement, rows in statements if rows]
    if not statements:
        return
    driver = await _driver(conn)
    async with driver.pipeline(), driver.cursor() as cursor:
        for statement, rows in statements:
            await cursor.executemany(_driver_sql(statement, tuple(rows[0])), rows)


@cache
def _driver_sql(statement: Executable, keys: tuple[str, ...]) -> str:
    """The statement as psycopg takes it (`%(name)s` parameters), for rows with `keys`."""
    compiled = cast(ClauseElement, statement).compile(dialect=_DIALECT, column_keys=list(keys))
    return str(compiled)


@dataclass
class NetWrites:
    """What a run of child writes comes to per table: the last `Put`/`Remove` of each key
    (so the two never touch one key), and the `Add`s of each key summed."""

    latest: dict[str, dict[tuple[Any, ...], Put | Remove]] = field(default_factory=dict)
    added: dict[str, dict[tuple[Any, ...], Add]] = field(default_factory=dict)

    @classmethod
    def of(cls, tables: Mapping[str, Table], writes: Iterable[ChildWrite]) -> NetWrites:
        net = cls()
        for write in writes:
            table = tables[write.table]
            if isinstance(write, Add):
                key = _key_of(table, write.key)
                earlier = net.added.setdefault(write.table, {}).get(key)
                net.added[write.table][key] = write if earlier is None else _summed(earlier, write)
            else:
                row = write.values if isinstance(write, Put) else write.key
                net.latest.setdefault(write.table, {})[_key_of(table, row)] = write
        return net


def child_statements(tables: Mapping[str, Table], writes: Iterable[ChildWrite]) -> list[Statement]:
    """The statements that apply `writes` (see `NetWrites`)."""
    net = NetWrites.of(tables, writes)
    statements: list[Statement] = []
    for name, latest_by_key in net.latest.items():
        statements += _put_and_remove(tables[name], list(latest_by_key.values()))
    for name, added_by_key in sorted(net.added.items()):
        statements.append(_add(tables[name], list(added_by_key.values())))
    return statements


async def copy_children(
    conn: AsyncConnection, tables: Mapping[str, Table], writes: Iterable[ChildWrite]
) -> None:
    """Child writes by the thousand (a rebuild's pages): each table's rows
    to insert or replace go through COPY into a staging table and one upsert from it."""
    net = NetWrites.of(tables, writes)
    for name, latest_by_key in net.latest.items():
        table = tables[name]
        writes_of_table = list(latest_by_key.values())
        put = [w.values for w in writes_of_table if isinstance(w, Put)]
        removed = [w for w in writes_of_table if isinstance(w, Remove)]
        for statement, rows in _put_and_remove(table, removed):
            await conn.execute(statement, rows)
        if put:
            await _copy_upsert(conn, table, put)
    for name, added_by_key in sorted(net.added.items()):
        statement, rows = _add(tables[name], list(added_by_key.values()))
        await conn.execute(statement, rows)


async def _copy_upsert(conn: AsyncConnection, table: Table, rows: list[Row]) -> None:
    columns = list(rows[0])
    target = Identifier(*filter(None, (table.schema, table.name)))
    stage = Identifier(f"stage_{table.name}")
    keys = [c.name for c in table.primary_key.columns]
    listed = SQL(", ").join(map(Identifier, columns))
    await conn.exec_driver_sql(
        SQL("CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {target}) ON COMMIT DELETE ROWS")
        .format(stage=stage, target=target)
        .as_string(None)
    )
    driver = await _driver(conn)
    copy_in = SQL("COPY {stage} ({columns}) FROM STDIN").format(stage=stage, columns=listed)
    async with driver.cursor() as cursor, cursor.copy(copy_in) as copy:
        for row in rows:
            await copy.write_row([row[name] for name in columns])
    replaced = [name for name in columns if name not in keys]
    upsert = SQL(
        "INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}"
        " ON CONFLICT ({keys}) DO {action}; TRUNCATE {stage}"
    ).format(
        target=target,
        columns=listed,
        stage=stage,
        keys=SQL(", ").join(map(Identifier, keys)),
        action=SQL("UPDATE SET {}").format(
            SQL(", ").join(SQL("{0} = excluded.{0}").format(Identifier(n)) for n in replaced)
        )
        if replaced
        else SQL("NOTHING"),
    )
    await conn.exec_driver_sql(upsert.as_string(None))


def _key_of(table: Table, row: Row) -> tuple[Any, ...]:
    return tuple(row[name] for name in _key_names(table))


@cache
def _key_names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


def _summed(earlier: Add, later: Add) -> Add:
    amounts = dict(earlier.amounts)
    for column, amount in later.amounts.items():
        amounts[column] = amounts.get(column, 0) + amount
    return Add(earlier.table, earlier.key, amounts, {**later.defaults, **earlier.defaults})


def _put_and_remove(table: Table, writes: Sequence[Put | Remove]) -> list[Statement]:
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
    # Tables by name and rows by key: two transactions adding to the same counters (a
    # replay's parts, workers of several partitions) lock them in one order, no deadlock.
    ordered = sorted(writes, key=lambda w: _key_of(table, w.key))
    rows = [{**w.defaults, **w.key, **w.amounts} for w in ordered]
    counters = tuple(sorted({column for w in writes for column in w.amounts}))
    return _add_to_counters(table, counters), rows


@cache
def _add_to_counters(table: Table, counters: tuple[str, ...]) -> Executable:
    upsert = insert(table)
    return upsert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={c: table.c[c] + upsert.excluded[c] for c in counters},
    )


_TAKE_PARKED = (
    delete(parked_messages)
    .where(
        parked_messages.c.projection == bindparam("projection"),
        _any_id(parked_messages.c.aggregate_id),
    )
    .returning(
        parked_messages.c.position,
        parked_messages.c.aggregate_id,
        parked_messages.c.payload,
        parked_messages.c.error,
    )
)
# A parked message's row: position, aggregate, payload, error (as `parking` sets it aside
# and as `_TAKE_PARKED` gives it back).
ParkedRow = tuple[int, UUID, bytes, str]


@dataclass
class TakenBatch:
    """A batch ready to fold: its messages with the parked ones of its aggregates taken
    back, in position order; the rows of those aggregates, locked; and the messages taken
    back that no longer read (to be parked again as they were)."""

    envelopes: list[Envelope]
    rows: dict[UUID, Row]
    unreadable: list[ParkedRow]


async def take_batch(
    conn: AsyncConnection, projection: Projection, envelopes: list[Envelope]
) -> TakenBatch:
    """Take back the parked messages of the batch's aggregates and lock their rows, in one
    round trip, in the caller's transaction.

    A gap parks a message and every later one of its aggregate; once the missing message
    comes (the relay sends again what a broker lost), they apply in order, with no one
    acting: after a crash of the whole stack a booking can come before its event's
    `event.scheduled`, and used to stay parked for good. A message parked for a fault of
    its own is parked again, so an aggregate's order is never broken. What is taken back
    is of the same aggregates: the locked rows are the whole batch's."""
    taken, rows = await _retake_and_lock(
        conn, projection, list({envelope.aggregate_id for envelope in envelopes})
    )
    retaken, unreadable = _with_retaken(projection.name, envelopes, taken)
    return TakenBatch(retaken, rows, unreadable)


def batch_writes(projection: Projection, folded: Folded) -> list[Statement]:
    """What a fold of the live read model writes: rows, child writes, parked messages."""
    return [
        *_row_statements(projection.table, folded.changed.values()),
        *child_statements({t.name: t for t in projection.children}, folded.writes),
        *_park_statements(projection.name, folded.parked),
    ]


def _with_retaken(
    projection: str, envelopes: list[Envelope], taken: list[ParkedRow]
) -> tuple[list[Envelope], list[ParkedRow]]:
    """The batch with the messages taken back, in position order, and those taken back
    that cannot be read (to be parked again as they were, not to fail the batch)."""
    if not taken:
        return envelopes, []
    logger.info("%s: taking back %d parked messages", projection, len(taken))
    retaken: list[Envelope] = []
    unreadable: list[ParkedRow] = []
    for parked in taken:
        try:
            retaken.append(Envelope.decode(parked[2]))
        except ValueError:
            unreadable.append(parked)
    return sorted(retaken + envelopes, key=lambda envelope: envelope.position), unreadable


async def _retake_and_lock(
    conn: AsyncConnection, projection: Projection, ids: list[UUID]
) -> tuple[list[ParkedRow], dict[UUID, Row]]:
    """The parked messages of these aggregates (taken out) and their rows (locked), asked
    for in one psycopg pipeline: one round trip, and no SQLAlchemy per statement."""
    driver = await _driver(conn)
    async with (
        driver.pipeline(),
        driver.cursor() as parked,
        driver.cursor(row_factory=dict_row) as locked,
    ):
        await parked.execute(
            _driver_sql(_TAKE_PARKED, ()), {"projection": projection.name, "ids": ids}
        )
        await locked.execute(_driver_sql(_rows_by_id(projection.table, True), ()), {"ids": ids})
        taken: list[ParkedRow] = [(r[0], r[1], r[2], r[3]) for r in await parked.fetchall()]
        rows = {row["id"]: row for row in await locked.fetchall()}
    return taken, rows


# The aggregate a message is parked under when it cannot be read at all.
UNREADABLE = UUID(int=0)


async def park(conn: AsyncConnection, projection: str, parked: Iterable[Parked]) -> None:
    """Set messages aside, and say so: each is work a reader will miss until ops act."""
    await run_pipelined(conn, _park_statements(projection, parked))


def _park_statements(projection: str, parked: Iterable[Parked]) -> list[Statement]:
    return parking(
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
    await run_pipelined(conn, parking(projection, [(position, UNREADABLE, payload, error)]))


_PARK = insert(parked_messages).on_conflict_do_nothing()


def parking(projection: str, parked: list[ParkedRow]) -> list[Statement]:
    """The statements that set these messages aside, each logged as it is parked."""
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
    return [(_PARK, batch)] if batch else []


async def apply_batch(
    conn: AsyncConnection,
    projection: Projection,
    envelopes: list[Envelope],
    *,
    also: Sequence[Statement] = (),
) -> Folded:
    """Apply messages to the live read model in the caller's transaction, with the
    parked messages of their aggregates (see `take_batch`). `also` are the caller's own
    statements that need no answer (a live worker's watermark): they go in the pipeline
    of the batch's writes instead of a round trip of their own."""
    batch = await take_batch(conn, projection, envelopes)
    folded = fold(projection, batch.rows, set(), batch.envelopes)
    await run_pipelined(
        conn,
        [
            *batch_writes(projection, folded),
            *parking(projection.name, batch.unreadable),
            *also,
        ],
    )
    return folded
