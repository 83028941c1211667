"""Reminders: one per booking and start time, `reminder_lead_seconds` before the start.

Every active booking in `notifier_participants` is due when its event's start time minus
the lead has come, so moving an event moves its reminders, and cancelling a booking (its
row goes) or the event (its status changes) drops them. One leader scans the due rows with
`FOR UPDATE SKIP LOCKED`, asks the write side whether each booking is still active and
its event still upcoming at that start time, and creates the reminders under their
(booking, start time) key. A booking made after its moment, or an event moved after it,
gets none; a start that has passed gets none either, also when catching up after downtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, bindparam, func, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.notifier import texts
from projections.notifier.notification_store import NewNotification, create_notifications
from projections.notifier.texts import EventFacts
from projections.runtime.leadership import Leadership
from shared.clock import Clock
from shared.domain.errors import EventNotFound
from shared.domain.event import UPCOMING, Event
from shared.notifications import REMINDER, reminder_key
from shared.read_model.schema import notifier_events, notifier_participants

logger = logging.getLogger(__name__)

SCAN_BATCH = 500
_participants, _events = notifier_participants, notifier_events


@dataclass(frozen=True)
class DueReminder:
    event_id: UUID
    user_id: UUID
    booking_id: UUID
    start_time: datetime
    event: EventFacts

    @classmethod
    def of(cls, row: Any) -> DueReminder:
        return cls(
            row.event_id, row.user_id, row.booking_id, row.start_time, EventFacts.of(row._mapping)
        )

    def still_due(self, event: Event | None) -> bool:
        """Whether the write side still holds this booking, of this upcoming event, at this
        start time."""
        return (
            event is not None
            and not event.deleted
            and event.status == UPCOMING
            and event.start_time == self.start_time
            and event.bookings.get(str(self.user_id)) == str(self.booking_id)
        )

    def notification(self, now: datetime) -> NewNotification:
        return NewNotification(
            key=reminder_key(self.booking_id, self.start_time),
            user_id=self.user_id,
            type=REMINDER,
            event_id=self.event_id,
            message=texts.reminder(self.event),
            created_at=now,
        )


# The event as the write side holds it now, or None when it has none (the event store's
# reads block, so they run in a thread).
LoadEvent = Callable[[UUID], Awaitable[Event | None]]


class ReminderScheduler:
    def __init__(
        self, leadership: Leadership, clock: Clock, lead_seconds: float, load_event: LoadEvent
    ) -> None:
        self._leadership = leadership
        self._clock = clock
        self._lead = timedelta(seconds=lead_seconds)
        self._load_event = load_event

    async def tick(self) -> list[UUID]:
        """Create every reminder that is due, if this process leads; return their ids.

        Due bookings are read page by page (in start time order, from where the last page
        ended, so a page the write side disowned in part never comes back first), the write
        side is asked about each page's events at once and outside any transaction, and
        only then are the confirmed rows locked, checked to be still due and marked, in a
        short transaction of their own.
        """
        try:
            conn = await self._leadership.connection()
            if conn is None:
                return []
            created: list[UUID] = []
            after: tuple[datetime, UUID, UUID] | None = None
            while due := await self._due(conn, after):
                confirmed = await self._confirmed(due)
                async with conn.begin():
                    created += await self._remind(conn, confirmed)
                if len(due) < SCAN_BATCH:
                    break
                last = due[-1]
                after = (last.start_time, last.event_id, last.user_id)
            return created
        except Exception:
            logger.exception("reminders: the scan failed; trying again at the next tick")
            await self._leadership.step_down()
            return []

    def _still_due(self) -> list[ColumnElement[bool]]:
        now = self._clock.now()
        moment = _events.c.start_time - self._lead
        return [
            _events.c.id == _participants.c.event_id,
            _events.c.status == UPCOMING,
            _events.c.start_time > now,
            _events.c.start_time <= now + self._lead,
            moment > func.greatest(_participants.c.booked_at, _events.c.start_time_set_at),
            _participants.c.reminded_for.is_distinct_from(_events.c.start_time),
        ]

    async def _due(
        self, conn: AsyncConnection, after: tuple[datetime, UUID, UUID] | None
    ) -> list[DueReminder]:
        query = (
            select(
                _participants.c.event_id,
                _participants.c.user_id,
                _participants.c.booking_id,
                _events.c.title,
                _events.c.location,
                _events.c.start_time,
                _events.c.timezone,
            )
            .where(*self._still_due())
            .order_by(_events.c.start_time, _participants.c.event_id, _participants.c.user_id)
            .limit(SCAN_BATCH)
        )
        if after is not None:
            query = query.where(
                tuple_(_events.c.start_time, _participants.c.event_id, _participants.c.user_id)
                > tuple_(*map(literal, after))
            )
        due = [DueReminder.of(row) for row in await conn.execute(query)]
        # End the scan's transaction whatever it found: left open until a reminder is due,
        # it would hold its tables' locks against a migration for as long as none is.
        await conn.commit()
        return due

    async def _confirmed(self, due: Sequence[DueReminder]) -> list[DueReminder]:
        """The reminders the write side still holds due. The others stay unmarked: the view
        catches up and drops or moves them, and a later scan looks again."""
        event_ids = list({d.event_id for d in due})
        loaded = await asyncio.gather(*(self._load_event(e) for e in event_ids))
        events = dict(zip(event_ids, loaded, strict=True))
        return [d for d in due if d.still_due(events[d.event_id])]

    async def _remind(self, conn: AsyncConnection, confirmed: Sequence[DueReminder]) -> list[UUID]:
        """Mark and remind the confirmed bookings that are still due when locked (another
        leader, or a change of the view meanwhile, may have taken them)."""
        if not confirmed:
            return []
        keys = [(d.event_id, d.user_id, d.start_time) for d in confirmed]
        locked = await conn.execute(
            select(_participants.c.event_id, _participants.c.user_id)
            .where(
                *self._still_due(),
                tuple_(_participants.c.event_id, _participants.c.user_id, _events.c.start_time).in_(
                    keys
                ),
            )
            .with_for_update(of=_participants, skip_locked=True)
        )
        still = {(row.event_id, row.user_id) for row in locked}
        reminding = [d for d in confirmed if (d.event_id, d.user_id) in still]
        if not reminding:
            return []
        created = await create_notifications(
            conn, [d.notification(self._clock.now()) for d in reminding]
        )
        await conn.execute(
            update(_participants)
            .where(
                _participants.c.event_id == bindparam("e"),
                _participants.c.user_id == bindparam("u"),
            )
            .values(reminded_for=bindparam("s")),
            [{"e": d.event_id, "u": d.user_id, "s": d.start_time} for d in reminding],
        )
        return created


def event_loader(get_event: Callable[[UUID], Event]) -> LoadEvent:
    """`LoadEvent` over the application's blocking `get_event`."""

    async def load(event_id: UUID) -> Event | None:
        try:
            return await asyncio.to_thread(get_event, event_id)
        except EventNotFound:
            return None

    return load
