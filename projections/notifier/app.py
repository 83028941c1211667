"""The composition root of the notifier: a faust app with a consumer group of its own.

It reads every integration event apart from the read-model projectors, so notifications
never queue behind read-model work or rebuilds; it runs the reminders and the deliveries,
and nothing else: the status sweep runs beside the read-model projectors.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from projections.live import LiveProjector
from projections.notifier.channels import channel_for
from projections.notifier.delivery import Deliveries
from projections.notifier.fanout import apply_notifier_batch
from projections.notifier.projection import NOTIFIER, NOTIFIER_USERS
from projections.notifier.reminders import ReminderScheduler, event_loader
from projections.runtime.app import WorkerApp
from projections.runtime.feed import feed
from projections.runtime.leadership import REMINDERS_LOCK_KEY, Leadership
from shared.application.board import Board
from shared.clock import Clock
from shared.infra.database import async_engine
from shared.settings import Settings

logger = logging.getLogger(__name__)


def notifier_projectors(engine: AsyncEngine) -> tuple[LiveProjector, LiveProjector]:
    """The notifier's projection of events (with its notices) and of users."""
    notifier = LiveProjector(engine, NOTIFIER, apply_notifier_batch)
    return notifier, LiveProjector(engine, NOTIFIER_USERS)


def create_notifier_app(settings: Settings, board: Board, clock: Clock) -> WorkerApp:
    """Build the notifier over `board`, the write side its reminders check with; nothing
    connects until the worker starts it."""
    engine = async_engine(settings.sqlalchemy_url, pool_size=4, max_overflow=4)
    # Its batches fill for notifier_batch_seconds anyway: fetching more often buys little
    # time and costs a fetch (and the broker a listing of the partition) each.
    app = WorkerApp(
        settings, engine, role="notifier", fetch_interval=settings.notifier_batch_seconds
    )
    deliveries = Deliveries(
        engine,
        channel_for(settings),
        clock,
        settings.delivery_retry_seconds,
        settings.delivery_lease_seconds,
    )
    leadership = Leadership(engine, REMINDERS_LOCK_KEY, "reminders")
    reminders = ReminderScheduler(
        leadership, clock, settings.reminder_lead_seconds, event_loader(board.get_event)
    )

    notifier, recipients = notifier_projectors(engine)

    def wake_deliveries(applied: frozenset[str]) -> None:
        # Most messages make no notification (an event scheduled, finished); waking the
        # deliveries for them cost two queries a batch. A notification
        # made by a parked message taken back with an unrelated batch waits for the
        # deliveries' poll.
        if not applied.isdisjoint(NOTIFIER.effects):
            deliveries.wake()

    feed(
        app,
        settings,
        notifier,
        after_batch=wake_deliveries,
        batch_seconds=settings.notifier_batch_seconds,
    )
    feed(app, settings, recipients, batch_seconds=settings.notifier_batch_seconds)
    app.announce_assignment(f"{NOTIFIER.name}, {NOTIFIER_USERS.name}")

    async def remind() -> None:
        if await reminders.tick():
            deliveries.wake()

    async def deliver() -> None:
        # Woken by each batch and each reminder scan; the poll is only a safety net.
        await deliveries.run(poll_seconds=settings.safety_round_seconds)

    app.timer(settings.scheduler_tick_seconds, name="remind")(remind)
    app.task(deliver)
    app.cleanups.append(leadership.step_down)
    return app
