"""The notifier's parts in one process, over the real write side and a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from projections.notifier.app import notifier_projectors
from projections.notifier.channels import Channel, Outgoing
from projections.notifier.delivery import Deliveries
from projections.notifier.reminders import ReminderScheduler, event_loader
from projections.read_models.status_sweep import StatusSweep
from projections.runtime.leadership import REMINDERS_LOCK_KEY, STATUS_SWEEP_LOCK_KEY, Leadership
from shared.application.board import Board
from shared.clock import ManualClock
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.read_model.migrate import upgrade
from shared.read_model.schema import notifications
from shared.settings import Settings
from tests.builders import event_details
from tests.integration.outbox_feed import OutboxFeed

LEAD_SECONDS = 3600.0
FINISH_AFTER_SECONDS = 7200.0
LEASE_SECONDS = 60.0
ORGANIZER = Caller(uuid4(), "organizer")
# Staff may change an event after its edit window, as these tests do hours after creating it.
STAFF = Caller(uuid4(), "staff", is_staff=True)


class RecordingChannel:
    """A channel that keeps what it was given, failing for the users told to fail."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.failing: set[UUID] = set()

    async def send(self, notification: Outgoing) -> None:
        if notification.user_id in self.failing:
            raise ConnectionError("the mail server hung up")
        self.sent.append(notification)


class NotifierWorld:
    def __init__(self, board: Board, clock: ManualClock, engine: AsyncEngine) -> None:
        self.board = board
        self.clock = clock
        self.engine = engine
        self.projectors = notifier_projectors(engine)
        # Every read model: the status sweep reads the `events` one.
        self.feed = OutboxFeed(engine)
        self.channel = RecordingChannel()
        self.leaderships: list[Leadership] = []
        self.sweeps: list[StatusSweep] = []

    # --- the write side ---

    def schedule(self, *, starts_in: timedelta, **overrides: Any) -> UUID:
        details = event_details(self.clock.now() + starts_in, **{"seats": 100, **overrides})
        event_id: UUID = self.board.schedule_event(details, caller=ORGANIZER).aggregate.id
        return event_id

    def book(self, event_id: UUID, *users: Caller) -> None:
        for user in users:
            self.board.book_seat(event_id, caller=user)

    def move(self, event_id: UUID, start_time: datetime) -> None:
        self.board.update_event(event_id, caller=STAFF, changes={"start_time": start_time})

    def cancel(self, event_id: UUID) -> None:
        self.board.update_event(event_id, caller=STAFF, changes={}, status="cancelled")

    # --- the notifier ---

    def leadership(self, key: int = REMINDERS_LOCK_KEY) -> Leadership:
        """A leadership as one notifier process holds it, on a connection of its own."""
        self.leaderships.append(Leadership(self.engine, key, "duty"))
        return self.leaderships[-1]

    def reminder_scheduler(self, leadership: Leadership | None = None) -> ReminderScheduler:
        return ReminderScheduler(
            leadership or self.leadership(),
            self.clock,
            LEAD_SECONDS,
            event_loader(self.board.get_event),
        )

    def status_sweep(self) -> StatusSweep:
        self.sweeps.append(
            StatusSweep(
                self.leadership(STATUS_SWEEP_LOCK_KEY),
                self.clock,
                FINISH_AFTER_SECONDS,
                self.board.finish_event,
                self.board.close_waitlist,
            )
        )
        return self.sweeps[-1]

    def deliveries(
        self, channel: Channel | None = None, lease_seconds: float = LEASE_SECONDS
    ) -> Deliveries:
        return Deliveries(
            self.engine,
            channel or self.channel,
            self.clock,
            retry_seconds=1.0,
            lease_seconds=lease_seconds,
        )

    async def notifications(self, type_: str | None = None) -> list[dict[str, Any]]:
        query = select(notifications).order_by(notifications.c.created_at, notifications.c.key)
        if type_ is not None:
            query = query.where(notifications.c.type == type_)
        async with self.engine.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]


@asynccontextmanager
async def notifier_world(settings: Settings, clock: ManualClock) -> AsyncIterator[NotifierWorld]:
    upgrade(settings.database_url)
    board = Board(settings, clock, env=event_store_env(settings))
    engine = create_async_engine(settings.sqlalchemy_url, pool_size=4)
    world = NotifierWorld(board, clock, engine)
    try:
        yield world
    finally:
        for leadership in world.leaderships:
            await leadership.step_down()
        for sweep in world.sweeps:
            sweep.close()
        await engine.dispose()
        board.close()
