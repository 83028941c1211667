"""The Board application service: intent-revealing commands over the event store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

from shared.clock import Clock, SystemClock
from shared.domain.errors import ConcurrentModification, EventNotFound
from shared.domain.event import Event
from shared.identity import Caller
from shared.integration import to_integration_event
from shared.outbox.recorder import OUTBOX_KWARG
from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5
AggregateT = TypeVar("AggregateT")


@dataclass(frozen=True)
class Saved(Generic[AggregateT]):
    """A written aggregate and the global position of the last domain event it stored."""

    aggregate: AggregateT
    position: int


class Board(Application[UUID]):
    """Every write of the board goes through one of these methods, which end with `save`."""

    name = "Board"

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        super().__init__(env)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        # Every save also writes the outbox: the recorder inserts these rows in its transaction.
        processing_event.saved_kwargs[OUTBOX_KWARG] = [
            to_integration_event(e) for e in processing_event.events
        ]
        return super()._record(processing_event)

    def schedule_event(
        self,
        *,
        caller: Caller,
        title: str,
        description: str,
        start_time: datetime,
        timezone: str,
        location: str,
        seats: int,
        tags: list[str],
    ) -> Saved[Event]:
        new_event = Event.schedule(
            title=title,
            description=description,
            start_time=start_time,
            timezone=timezone,
            location=location,
            seats=seats,
            tags=tags,
            organizer_id=caller.id,
            organizer_username=caller.username,
            now=self.clock.now(),
        )
        return Saved(new_event, self._save(new_event))

    def update_event(
        self, event_id: UUID, *, caller: Caller, changes: dict[str, Any]
    ) -> Saved[Event]:
        def command(found: Event) -> None:
            found.update(
                changes=changes,
                by_user_id=caller.id,
                by_staff=caller.is_staff,
                now=self.clock.now(),
                edit_window_seconds=self.settings.edit_window_seconds,
            )

        return self._retrying(event_id, command)

    def get_event(self, event_id: UUID) -> Event:
        try:
            found: object = self.repository.get(event_id)
        except AggregateNotFoundError:
            raise EventNotFound from None
        if not isinstance(found, Event):
            raise EventNotFound
        return found

    def _retrying(self, event_id: UUID, command: Callable[[Event], None]) -> Saved[Event]:
        """Run a command on a fresh copy of the aggregate, again if another writer won the race."""
        for attempt in range(1, MAX_CONFLICT_RETRIES + 1):
            found = self.get_event(event_id)
            command(found)
            try:
                return Saved(found, self._save(found))
            except IntegrityError:
                logger.info("version conflict on %s, attempt %d", event_id, attempt)
        raise ConcurrentModification

    def _save(self, *aggregates: Event) -> int:
        recordings = self.save(*aggregates)
        # A command that changed nothing stored nothing: readers need not wait for it.
        return max((r.notification.id for r in recordings), default=0)
