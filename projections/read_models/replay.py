"""Rebuilding the read models from the event store, blue/green, one after the other.

The rebuild reads the event store in pages (see `StoredEvents`), folds them with the
live handlers into a fresh table in a schema of its own (same table and index names),
then swaps it in within one transaction: it locks the live table against the
projector, catches up on what was stored meanwhile, and moves the fresh table into
place. Reads keep working throughout; the live projector waits for the swap and then
treats what the rebuild already holds as duplicates.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier
from rich.progress import Progress
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateTable

from projections.folding import Parked, Projection, fold
from projections.read_models.catalog import PROJECTIONS
from projections.store import copy_children, copy_rows, load_rows, park, write_rows
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.integration.envelope import Envelope
from shared.integration.events import PUBLIC_TYPES, to_integration_event
from shared.outbox.recorder import OUTBOX_TABLE
from shared.read_model.migrate import upgrade
from shared.read_model.schema import parked_messages
from shared.settings import EVENT_STORE_SCHEMA, READ_SCHEMA, Settings

logger = logging.getLogger(__name__)

REBUILD_SCHEMA = f"{READ_SCHEMA}_rebuild"
PAGE_SIZE = 5000
# The collector's automatic runs are off while pages are folded, and a full collection
# runs every this many pages instead (see `collecting_every`).
PAGES_PER_COLLECTION = 50
_RECORDED_MESSAGES = SQL(
    "SELECT position, payload FROM {outbox}"
    " WHERE position > %s AND position <= %s AND stream = ANY(%s)"
).format(outbox=Identifier(EVENT_STORE_SCHEMA, OUTBOX_TABLE))
_OUTBOX_PAGE = SQL(
    "SELECT position, payload FROM {outbox}"
    " WHERE position > %s AND stream = ANY(%s) ORDER BY position LIMIT %s"
).format(outbox=Identifier(EVENT_STORE_SCHEMA, OUTBOX_TABLE))


class StoredEvents:
    """Pages of a projection's integration events, read from the event store.

    The event store says which events exist. Where the outbox still holds an event's
    message (the mapper's output, recorded in the event's own transaction and sent to
    the live projector), that message is decoded; only events whose outbox rows were
    pruned go through the mapper again, which costs several times more. A page the
    outbox holds whole (the event store counts as many events in its range) is read from
    the outbox alone: the stored events need not travel at all.
    """

    def __init__(
        self, board: Board, outbox: psycopg.Connection[Any], projection: Projection
    ) -> None:
        self.board = board
        self.outbox = outbox
        self.projection = projection
        self.topics = [
            get_topic(cls)
            for cls, route in PUBLIC_TYPES.items()
            if route.stream in projection.streams
        ]
        recorder = board.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            raise TypeError("a replay reads the event store in PostgreSQL")
        self._stored_count = SQL(
            "SELECT count(*) FROM {table}"
            " WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s)"
        ).format(table=Identifier(recorder.datastore.schema, recorder.events_table_name))
        # The outbox holds nothing of this projection's before this position (pruned).
        self._outbox_from = 0

    def last_position(self) -> int:
        return self.board.recorder.max_notification_id() or 0

    def page(self, after: int) -> tuple[list[Envelope], int]:
        """The envelopes stored after position `after`, and the position this page reached."""
        whole = self._whole_outbox_page(after)
        if whole is not None:
            return whole
        notifications = self.board.recorder.select_notifications(
            after, PAGE_SIZE, topics=self.topics, inclusive_of_start=False
        )
        if not notifications:
            return [], after
        recorded = self._recorded_messages(after, notifications[-1].id)
        envelopes = []
        for notification in notifications:
            payload = recorded.get(notification.id)
            if payload is not None:
                envelopes.append(Envelope.decode(payload))
                continue
            integration_event = to_integration_event(
                self.board.mapper.to_domain_event(notification)
            )
            if integration_event is not None:
                envelopes.append(Envelope.of(integration_event.to_message(notification.id)))
        return envelopes, notifications[-1].id

    def _whole_outbox_page(self, after: int) -> tuple[list[Envelope], int] | None:
        if after < self._outbox_from:
            return None
        rows = self.outbox.execute(
            _OUTBOX_PAGE, (after, list(self.projection.streams), PAGE_SIZE)
        ).fetchall()
        if not rows:
            self.outbox.rollback()
            return None
        last: int = rows[-1][0]
        stored = self.outbox.execute(self._stored_count, (after, last, self.topics)).fetchone()
        self.outbox.rollback()
        if stored is None or stored[0] != len(rows):
            # Pruned rows in the way: the mapper's path reads up to the first row kept.
            self._outbox_from = rows[0][0] - 1
            return None
        return [Envelope.decode(payload) for _, payload in rows], last

    def _recorded_messages(self, after: int, last: int) -> dict[int, bytes]:
        rows = self.outbox.execute(
            _RECORDED_MESSAGES, (after, last, list(self.projection.streams))
        ).fetchall()
        # Read-only: end the transaction so it holds nothing while pages are folded.
        self.outbox.rollback()
        return dict(rows)


PROGRESS_LOG_SECONDS = 1.0


class Rebuild:
    """One rebuild of one projection into `REBUILD_SCHEMA`."""

    def __init__(self, engine: AsyncEngine, source: StoredEvents, projection: Projection) -> None:
        self.engine = engine
        self.source = source
        self.projection = projection
        rebuilt = MetaData()
        self.tables = [t.to_metadata(rebuilt, schema=REBUILD_SCHEMA) for t in projection.tables]
        self.table = self.tables[0]
        self.children = {t.name: t for t in self.tables[1:]}
        self.parked_aggregates: set[UUID] = set()
        self.parked: list[Parked] = []
        self.position = 0
        self.count = 0

    async def run(self, progress: Progress) -> int:
        await self._create_table()
        task = progress.add_task(f"replaying {self.projection.name}", total=None)
        total = await asyncio.to_thread(self.source.last_position)
        progress.update(task, total=total)
        logged_at = 0.0
        next_page = asyncio.create_task(asyncio.to_thread(self.source.page, self.position))
        with collecting_every(PAGES_PER_COLLECTION) as page_done:
            while True:
                envelopes, reached = await next_page
                if reached == self.position:
                    break
                # Decoding the next page overlaps with writing this one.
                next_page = asyncio.create_task(asyncio.to_thread(self.source.page, reached))
                async with self.engine.begin() as conn:
                    await self._apply(conn, envelopes, reached)
                progress.update(task, completed=reached)
                page_done()
                # A line a second: what the admin's operations page shows of a running replay.
                if time.monotonic() - logged_at >= PROGRESS_LOG_SECONDS:
                    logger.info(
                        "%s: replayed up to position %d of %d",
                        self.projection.name,
                        reached,
                        total,
                    )
                    logged_at = time.monotonic()
        async with self.engine.begin() as conn:
            for table in self.tables:
                for index in table.indexes:
                    await conn.execute(CreateIndex(index))
                await conn.execute(text(f'ANALYZE "{REBUILD_SCHEMA}"."{table.name}"'))
        await self._swap()
        progress.update(task, completed=self.position, total=self.position)
        return self.count

    async def _create_table(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{REBUILD_SCHEMA}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{REBUILD_SCHEMA}"'))
            # Indexes come after the load, which is faster without them.
            for table in self.tables:
                await conn.execute(CreateTable(table))

    async def _apply(self, conn: AsyncConnection, envelopes: list[Envelope], reached: int) -> None:
        rows = await load_rows(conn, self.table, _continued(self.projection, envelopes))
        stored = set(rows)
        folded = fold(self.projection, rows, self.parked_aggregates, envelopes)
        await copy_rows(conn, self.table, (r for i, r in folded.changed.items() if i not in stored))
        await write_rows(conn, self.table, (r for i, r in folded.changed.items() if i in stored))
        await copy_children(conn, self.children, folded.writes)
        self.parked.extend(folded.parked)
        self.count += len(envelopes)
        self.position = reached

    async def _swap(self) -> None:
        live = [f'"{READ_SCHEMA}"."{table.name}"' for table in self.tables]
        async with self.engine.begin() as conn:
            # The projector cannot write the live tables from here on: whatever it applied is
            # in the event store now, and the catch-up below copies it into the fresh tables.
            await conn.execute(text(f"LOCK TABLE {', '.join(live)} IN EXCLUSIVE MODE"))
            while True:
                envelopes, reached = await asyncio.to_thread(self.source.page, self.position)
                if reached == self.position:
                    break
                await self._apply(conn, envelopes, reached)
            await conn.execute(
                parked_messages.delete().where(
                    parked_messages.c.projection == self.projection.name,
                    parked_messages.c.position <= self.position,
                )
            )
            await park(conn, self.projection.name, self.parked)
            await conn.execute(text(f"DROP TABLE {', '.join(live)}"))
            for table in self.tables:
                await conn.execute(
                    text(
                        f'ALTER TABLE "{REBUILD_SCHEMA}"."{table.name}" SET SCHEMA "{READ_SCHEMA}"'
                    )
                )
            await conn.execute(text(f'DROP SCHEMA "{REBUILD_SCHEMA}"'))
        logger.info(
            "%s rebuilt from %d events up to position %d, %d parked",
            self.projection.name,
            self.count,
            self.position,
            len(self.parked),
        )


def _continued(projection: Projection, envelopes: list[Envelope]) -> Collection[UUID]:
    """Aggregates whose first message here does not create their row: it is in the table."""
    first_types: dict[UUID, str] = {}
    for envelope in envelopes:
        first_types.setdefault(envelope.aggregate_id, envelope.type)
    return [id_ for id_, type_ in first_types.items() if type_ not in projection.creates]


@contextmanager
def collecting_every(pages: int) -> Iterator[Callable[[], None]]:
    """Garbage collection by pages: the callable it gives counts one, and every `pages`
    pages the collector runs; its automatic runs are off meanwhile.

    Folding a page allocates tens of thousands of rows and writes, and the automatic
    collections kept scanning the page's live ones: measured, 40% of the time folding
    bookings. A page's garbage goes with its references; only cycles wait for the next
    collection."""
    done = 0

    def page_done() -> None:
        nonlocal done
        done += 1
        if done % pages == 0:
            gc.collect()

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield page_done
    finally:
        if was_enabled:
            gc.enable()


def replay(settings: Settings, progress: bool = True) -> int:
    """Rebuild every read model from the event store; return how many events they read."""
    upgrade(settings.database_url)
    board = Board(settings, env=event_store_env(settings))
    try:
        with psycopg.connect(settings.database_url) as outbox:
            sources = [StoredEvents(board, outbox, projection) for projection in PROJECTIONS]
            return asyncio.run(_replay(settings, sources, show=progress))
    finally:
        board.close()


async def _replay(settings: Settings, sources: list[StoredEvents], *, show: bool) -> int:
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=2)
    try:
        with Progress(disable=not show) as bar:
            return sum([await Rebuild(engine, s, s.projection).run(bar) for s in sources])
    finally:
        await engine.dispose()
