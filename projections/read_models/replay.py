"""Rebuilding the read models from the event store, blue/green, one after the other.

The rebuild reads the event store in pages (see `StoredEvents`), folds them with the
live handlers into a fresh table in a schema of its own (same table and index names),
then swaps it in within one transaction: it locks the live table against the
projector, catches up on what was stored meanwhile, and moves the fresh table into
place. Reads keep working throughout; the live projector waits for the swap and then
treats what the rebuild already holds as duplicates.

A large read model is folded by worker processes (`replay_workers`), each taking the
aggregates of one `Part` up to the same position: an aggregate's messages stay in order in
one process, and the rows the parts share are counters, which commute. One process folding
left a core idle (PostgreSQL took in a page while Python waited, and the other way round).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier
from rich.progress import Progress, TaskID
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
# No bound: a page reads up to whatever the event store holds.
UNBOUNDED = 2**63 - 1
_RECORDED_MESSAGES = SQL(
    "SELECT position, payload FROM {outbox}"
    " WHERE position > %s AND position <= %s AND stream = ANY(%s)"
).format(outbox=Identifier(EVENT_STORE_SCHEMA, OUTBOX_TABLE))
# A part's rows: the last byte of the aggregate's id (the message key) modulo the parts.
_OUTBOX_PAGE = SQL(
    "SELECT position, payload FROM {outbox}"
    " WHERE position > %s AND position <= %s AND stream = ANY(%s)"
    " AND get_byte(uuid_send(key::uuid), 15) %% %s = %s ORDER BY position LIMIT %s"
).format(outbox=Identifier(EVENT_STORE_SCHEMA, OUTBOX_TABLE))


@dataclass(frozen=True)
class Part:
    """The aggregates whose id's last byte modulo `of` is `index`."""

    index: int = 0
    of: int = 1

    def holds(self, aggregate_id: UUID | str) -> bool:
        if isinstance(aggregate_id, str):
            aggregate_id = UUID(aggregate_id)
        return aggregate_id.bytes[15] % self.of == self.index


WHOLE = Part()


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
        self,
        board: Board,
        outbox: psycopg.Connection[Any],
        projection: Projection,
        part: Part = WHOLE,
        until: int = UNBOUNDED,
    ) -> None:
        self.board = board
        self.outbox = outbox
        self.projection = projection
        self.part = part
        self.until = until
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
            " AND get_byte(uuid_send(originator_id), 15) %% %s = %s"
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
            after,
            PAGE_SIZE,
            stop=None if self.until == UNBOUNDED else self.until,
            topics=self.topics,
            inclusive_of_start=False,
        )
        if not notifications:
            return [], after
        recorded = self._recorded_messages(after, notifications[-1].id)
        envelopes = []
        for notification in notifications:
            if not self.part.holds(notification.originator_id):
                continue
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
        part = (self.part.of, self.part.index)
        rows = self.outbox.execute(
            _OUTBOX_PAGE, (after, self.until, list(self.projection.streams), *part, PAGE_SIZE)
        ).fetchall()
        if not rows:
            self.outbox.rollback()
            return None
        last: int = rows[-1][0]
        stored = self.outbox.execute(
            self._stored_count, (after, last, self.topics, *part)
        ).fetchone()
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

    def __init__(
        self,
        engine: AsyncEngine,
        source: StoredEvents,
        projection: Projection,
        workers: Workers | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.projection = projection
        self.workers = workers
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
        report = self._reporter(progress, task, total)
        if self.workers is not None and self.workers.take(total):
            await self._fold_in_workers(self.workers, total, report)
        else:
            await self.fold(report)
        async with self.engine.begin() as conn:
            for table in self.tables:
                for index in table.indexes:
                    await conn.execute(CreateIndex(index))
                await conn.execute(text(f'ANALYZE "{REBUILD_SCHEMA}"."{table.name}"'))
        await self._swap()
        progress.update(task, completed=self.position, total=self.position)
        return self.count

    async def fold(self, report: Callable[[int], None]) -> None:
        """Fold every page the source gives into the fresh tables, a transaction each."""
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
                report(reached)
                page_done()

    async def _fold_in_workers(
        self, workers: Workers, until: int, report: Callable[[int], None]
    ) -> None:
        for count, parked in await workers.fold(self.projection.name, until, report):
            self.count += count
            self.parked.extend(parked)
        self.parked.sort(key=lambda p: p.envelope.position)
        self.parked_aggregates.update(p.envelope.aggregate_id for p in self.parked)
        self.position = until

    def _reporter(self, progress: Progress, task: TaskID, total: int) -> Callable[[int], None]:
        logged_at = 0.0

        def report(reached: int) -> None:
            nonlocal logged_at
            progress.update(task, completed=reached)
            # A line a second: what the admin's operations page shows of a running replay.
            if time.monotonic() - logged_at >= PROGRESS_LOG_SECONDS:
                logger.info(
                    "%s: replayed up to position %d of %d", self.projection.name, reached, total
                )
                logged_at = time.monotonic()

        return report

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


class Workers:
    """Processes folding the parts of a read model, one part each, kept for the whole replay.

    They are forked as the replay starts, before it opens a connection or starts a thread:
    a fork has everything imported already, where a spawned process spent a second of CPU
    importing before it folded anything (measured: 22 000 against 34 000 events/s)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.count = settings.replay_workers or os.cpu_count() or 1
        self._context = multiprocessing.get_context("fork")
        self._reports: multiprocessing.Queue[tuple[int, int]] = self._context.Queue()
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.count,
                mp_context=self._context,
                initializer=_report_to,
                initargs=(self._reports,),
            )
            # A pool that forks launches every process at its first task.
            self._executor.submit(int).result()
        return self._executor

    def worth_it(self, positions: int) -> bool:
        """Whether a board with this many stored events is worth forking the workers."""
        return self.count > 1 and positions >= self.settings.replay_parallel_from

    def take(self, positions: int) -> bool:
        """Whether a read model with this many stored events to read goes to the workers:
        only if they were forked as the replay started (never later, once threads run)."""
        return self._executor is not None and self.worth_it(positions)

    async def fold(
        self, name: str, until: int, report: Callable[[int], None]
    ) -> list[tuple[int, list[Parked]]]:
        """Each part's count of events and parked messages, folded up to `until`; `report`
        hears the position every part has reached."""
        executor = self.start()
        loop = asyncio.get_running_loop()
        parts = [
            loop.run_in_executor(
                executor, fold_part, self.settings, name, Part(index, self.count), until
            )
            for index in range(self.count)
        ]
        reached = [0] * self.count
        while not all(part.done() for part in parts):
            await asyncio.wait(parts, timeout=REPORT_SECONDS)
            while True:
                try:
                    index, position = self._reports.get_nowait()
                except queue.Empty:
                    break
                reached[index] = position
            for index, part in enumerate(parts):
                if part.done():
                    reached[index] = until
            report(min(reached))
        return [part.result() for part in parts]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
        self._reports.close()


REPORT_SECONDS = 0.2
# Where a worker process reports the position its part reached (set as it starts).
_reports: multiprocessing.Queue[tuple[int, int]] | None = None


def _report_to(reports: multiprocessing.Queue[tuple[int, int]]) -> None:
    global _reports
    _reports = reports


def fold_part(settings: Settings, name: str, part: Part, until: int) -> tuple[int, list[Parked]]:
    """In a worker process: fold one part of a read model into the fresh tables up to
    `until`; return how many events it read and what it parked."""
    projection = next(p for p in PROJECTIONS if p.name == name)
    # The replay made the tables; workers creating them at once collide in the catalog.
    board = Board(settings, env={**event_store_env(settings), "CREATE_TABLE": "no"})
    try:
        with psycopg.connect(settings.database_url) as outbox:
            source = StoredEvents(board, outbox, projection, part, until)
            return asyncio.run(_fold_part(settings, source, part))
    finally:
        board.close()


async def _fold_part(
    settings: Settings, source: StoredEvents, part: Part
) -> tuple[int, list[Parked]]:
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        rebuild = Rebuild(engine, source, source.projection)
        reports = _reports

        def report(reached: int) -> None:
            if reports is not None:
                reports.put((part.index, reached))

        await rebuild.fold(report)
        return rebuild.count, rebuild.parked
    finally:
        await engine.dispose()


def replay(settings: Settings, progress: bool = True) -> int:
    """Rebuild every read model from the event store; return how many events they read."""
    workers = Workers(settings)
    if workers.worth_it(_last_stored_position(settings)):
        workers.start()
    upgrade(settings.database_url)
    board = Board(settings, env=event_store_env(settings))
    try:
        with psycopg.connect(settings.database_url) as outbox:
            sources = [StoredEvents(board, outbox, projection) for projection in PROJECTIONS]
            return asyncio.run(_replay(settings, sources, workers, show=progress))
    finally:
        workers.close()
        board.close()


def _last_stored_position(settings: Settings) -> int:
    """The event store's last position, read on a connection of its own: the Board's pool
    starts threads, and the workers are forked before any thread runs."""
    # The library names an application's table after it (`PostgresFactory`).
    table = Identifier(EVENT_STORE_SCHEMA, f"{Board.name.lower()}_events")
    with psycopg.connect(settings.database_url) as conn:
        try:
            row = conn.execute(SQL("SELECT max(notification_id) FROM {}").format(table)).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0  # nothing was ever stored
    return int(row[0] or 0) if row else 0


async def _replay(
    settings: Settings, sources: list[StoredEvents], workers: Workers, *, show: bool
) -> int:
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=2)
    try:
        with Progress(disable=not show) as bar:
            return sum([await Rebuild(engine, s, s.projection, workers).run(bar) for s in sources])
    finally:
        await engine.dispose()
