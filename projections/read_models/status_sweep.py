"""The status sweep: upcoming events that started `finish_after_seconds` ago become finished,
and the waitlists of events that have started are closed (everyone left in line is told).

It runs in the read-model projector's process, not the notifier's: it is not urgent, and
its commands must not take the CPU that notifications need. The leader reads the overdue
events from the `events` read model and finishes each through the application, like any
write; the aggregate refuses one that is finished already or has not started, so a sweep
run twice, or by two processes, finishes each event once. The commands block, so they
run on threads of the sweep's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID

from sqlalchemy import select

from projections.runtime.app import WorkerApp
from projections.runtime.leadership import STATUS_SWEEP_LOCK_KEY, Leadership
from shared.application.board import Board
from shared.clock import Clock
from shared.domain.errors import EventNotFound, InvalidStatusTransition
from shared.domain.event import UPCOMING
from shared.read_model.schema import events
from shared.settings import Settings

logger = logging.getLogger(__name__)

# Commands in flight at once: enough for the application to save them in groups.
CONCURRENT_COMMANDS = 8


class StatusSweep:
    def __init__(
        self,
        leadership: Leadership,
        clock: Clock,
        finish_after_seconds: float,
        finish_event: Callable[[UUID], object],
        close_waitlist: Callable[[UUID], object],
    ) -> None:
        self._leadership = leadership
        self._clock = clock
        self._finish_after = timedelta(seconds=finish_after_seconds)
        self._finish_event = finish_event
        self._close_waitlist = close_waitlist
        self._threads = ThreadPoolExecutor(CONCURRENT_COMMANDS, thread_name_prefix="sweep")

    async def tick(self) -> int:
        """Close the lines of started events and finish every overdue event, if this process
        leads; return how many it finished."""
        try:
            conn = await self._leadership.connection()
            if conn is None:
                return 0
            now = self._clock.now()
            upcoming = select(events.c.id).where(events.c.status == UPCOMING)
            waiting = list(
                await conn.scalars(
                    upcoming.where(events.c.start_time <= now, events.c.waitlist_length > 0)
                )
            )
            overdue = list(
                await conn.scalars(
                    upcoming.where(events.c.start_time <= now - self._finish_after).order_by(
                        events.c.start_time
                    )
                )
            )
            await conn.commit()
        except Exception:
            logger.exception("status sweep: the scan failed; trying again at the next sweep")
            await self._leadership.step_down()
            return 0
        await self._each(self._close_waitlist, waiting)
        finished = await self._each(self._finish_event, overdue)
        if finished:
            logger.info("status sweep: finished %d events", finished)
        return finished

    async def _each(self, command: Callable[[UUID], object], event_ids: list[UUID]) -> int:
        """Run the command for each event on the sweep's threads; how many it did."""
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(loop.run_in_executor(self._threads, self._run, command, e) for e in event_ids)
        )
        return sum(results)

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)

    def _run(self, command: Callable[[UUID], object], event_id: UUID) -> bool:
        try:
            command(event_id)
        except (InvalidStatusTransition, EventNotFound):
            # Finished, cancelled or deleted meanwhile, or moved to a later start.
            return False
        except Exception:
            logger.exception("status sweep: could not change %s; trying again later", event_id)
            return False
        return True


def schedule_status_sweep(
    app: WorkerApp, settings: Settings, board: Board, clock: Clock
) -> StatusSweep:
    """Run the sweep every `status_sweep_seconds` in `app`'s process, under a leader lock."""
    leadership = Leadership(app.engine, STATUS_SWEEP_LOCK_KEY, "status sweep")
    sweep = StatusSweep(
        leadership,
        clock,
        settings.finish_after_seconds,
        board.finish_event,
        board.close_waitlist,
    )

    async def sweep_statuses() -> None:
        await sweep.tick()

    async def stop() -> None:
        await leadership.step_down()
        await asyncio.to_thread(sweep.close)

    app.timer(settings.status_sweep_seconds, name="sweep-statuses")(sweep_statuses)
    app.cleanups.append(stop)
    return sweep
