"""The board's commands on events, their bookings and ratings, and tags (part of `Board`).

Each command is a function of a `UnitOfWork` that the committer runs in its next group
(`shared/commits.py`). It returns a copy of what a response shows, never the aggregate,
which stays cached and keeps changing in later groups.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from shared.application.commits import Command, Committer, UnitOfWork, command
from shared.application.idempotency import Idempotency
from shared.clock import Clock
from shared.domain.errors import EventNotFound, TagExists
from shared.domain.event import Event, EventDetails, EventView, check_score
from shared.domain.tag import Tag, tag_id_for
from shared.identity import Caller
from shared.integration.events import to_integration_event
from shared.settings import Settings


@dataclass(frozen=True)
class Booking:
    booking_id: UUID
    event_id: UUID
    booked_at: datetime


@dataclass(frozen=True)
class WaitlistPlace:
    event_id: UUID
    position: int
    joined_at: datetime


@dataclass(frozen=True)
class Rating:
    event_id: UUID
    score: int
    rated_at: datetime
    first: bool


@dataclass(frozen=True)
class HistoryEntry:
    """One stored domain event of an event, as its public integration event."""

    position: int
    version: int
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class EventHistory(Protocol):
    def aggregate_notifications(self, originator_id: UUID) -> list[Notification]: ...


class EventCommands:
    """Mixed into `Board`, which provides these attributes."""

    settings: Settings
    clock: Clock
    commits: Committer
    mapper: Mapper[UUID]
    history: EventHistory

    @command
    def schedule_event(
        self, details: EventDetails, *, caller: Caller, idempotency: Idempotency | None = None
    ) -> Command[EventView]:
        def command(uow: UnitOfWork) -> EventView:
            now = self.clock.now()
            spelled, new_tags = _spell_tags(uow, details.tags, now)
            scheduled = Event.schedule(
                replace(details, tags=spelled),
                organizer_id=caller.id,
                organizer_username=caller.username,
                now=now,
            )
            uow.add(scheduled, *new_tags)
            return scheduled.view(caller.id)

        return Command(command, idempotency)

    @command
    def update_event(
        self,
        event_id: UUID,
        *,
        caller: Caller,
        changes: dict[str, Any],
        status: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> Command[EventView]:
        """Change fields of the event and/or cancel it (`status="cancelled"`)."""

        def command(uow: UnitOfWork) -> EventView:
            now = self.clock.now()
            found = _event(uow, event_id)
            wanted, new_tags = dict(changes), list[Tag]()
            if "tags" in changes:
                wanted["tags"], new_tags = _spell_tags(uow, changes["tags"], now)
            found.update(
                changes=wanted,
                status=status,
                by_user_id=caller.id,
                by_staff=caller.is_staff,
                now=now,
                edit_window_seconds=self.settings.edit_window_seconds,
            )
            uow.add(*new_tags)
            return found.view(caller.id)

        return Command(command, idempotency)

    @command
    def delete_event(
        self, event_id: UUID, *, caller: Caller, idempotency: Idempotency | None = None
    ) -> Command[UUID]:
        def command(uow: UnitOfWork) -> UUID:
            _event(uow, event_id).delete(
                by_user_id=caller.id,
                by_staff=caller.is_staff,
                now=self.clock.now(),
                edit_window_seconds=self.settings.edit_window_seconds,
            )
            return event_id

        return Command(command, idempotency)

    @command
    def finish_event(self, event_id: UUID, *, by_user_id: UUID | None = None) -> Command[EventView]:
        """Mark an upcoming event that has started as finished: the status sweep's command
        (`by_user_id` None), or staff's before the sweep comes."""

        def command(uow: UnitOfWork) -> EventView:
            found = _event(uow, event_id)
            found.finish(self.clock.now(), by_user_id=by_user_id)
            return found.view()

        return Command(command)

    @command
    def book_seat(
        self, event_id: UUID, *, caller: Caller, idempotency: Idempotency | None = None
    ) -> Command[Booking]:
        def command(uow: UnitOfWork) -> Booking:
            now = self.clock.now()
            booking_id = _event(uow, event_id).book(
                user_id=caller.id, username=caller.username, now=now
            )
            return Booking(booking_id, event_id, now)

        return Command(command, idempotency)

    @command
    def cancel_booking(
        self, event_id: UUID, *, caller: Caller, idempotency: Idempotency | None = None
    ) -> Command[UUID]:
        """Cancel the caller's booking of the event; returns the cancelled booking's id."""

        def command(uow: UnitOfWork) -> UUID:
            return _event(uow, event_id).cancel_booking(user_id=caller.id, now=self.clock.now())

        return Command(command, idempotency)

    @command
    def join_waitlist(
        self, event_id: UUID, *, caller: Caller, idempotency: Idempotency | None = None
    ) -> Command[WaitlistPlace]:
        def command(uow: UnitOfWork) -> WaitlistPlace:
            now = self.clock.now()
            position = _event(uow, event_id).join_waitlist(
                user_id=caller.id, username=caller.username, now=now
            )
            return WaitlistPlace(event_id, position, now)

        return Command(command, idempotency)

    @command
    def leave_waitlist(
        self, event_id: UUID, *, caller: Caller, idempotency: Idempotency | None = None
    ) -> Command[UUID]:
        def command(uow: UnitOfWork) -> UUID:
            _event(uow, event_id).leave_waitlist(user_id=caller.id, now=self.clock.now())
            return event_id

        return Command(command, idempotency)

    @command
    def close_waitlist(self, event_id: UUID) -> Command[int]:
        """Let go of the line of an event that has started (the status sweep's command);
        returns how many were in it."""

        def command(uow: UnitOfWork) -> int:
            return _event(uow, event_id).close_waitlist(self.clock.now())

        return Command(command)

    @command
    def rate_event(
        self,
        event_id: UUID,
        *,
        caller: Caller,
        score: int,
        idempotency: Idempotency | None = None,
    ) -> Command[Rating]:
        check_score(score)

        def command(uow: UnitOfWork) -> Rating:
            now = self.clock.now()
            previous = _event(uow, event_id).rate(user_id=caller.id, score=score, now=now)
            return Rating(event_id, score, now, first=previous is None)

        return Command(command, idempotency)

    @command
    def create_tag(self, name: str, *, idempotency: Idempotency | None = None) -> Command[str]:
        """Create a tag; a tag of the same name in any letter case is refused."""

        def command(uow: UnitOfWork) -> str:
            if uow.find(tag_id_for(name), Tag) is not None:
                raise TagExists
            uow.add(Tag.create(name=name, now=self.clock.now()))
            return name

        return Command(command, idempotency)

    def event_history(self, event_id: UUID, *, caller: Caller) -> list[HistoryEntry]:
        """The event's domain events in order, as integration events; for its organizer and
        staff, and once deleted for staff only."""

        def command(uow: UnitOfWork) -> None:
            found = uow.find(event_id, Event)
            if found is None or (found.deleted and not caller.is_staff):
                raise EventNotFound
            found.check_may_manage(caller.id, caller.is_staff)

        self.commits.run(Command(command))
        entries = []
        for notification in self.history.aggregate_notifications(event_id):
            public = to_integration_event(self.mapper.to_domain_event(notification))
            if public is not None:
                entries.append(
                    HistoryEntry(
                        notification.id,
                        public.version,
                        public.type,
                        public.occurred_at,
                        public.data,
                    )
                )
        return entries


def _event(uow: UnitOfWork, event_id: UUID) -> Event:
    found = uow.find(event_id, Event)
    if found is None or found.deleted:
        raise EventNotFound
    return found


def _spell_tags(uow: UnitOfWork, names: list[str], now: datetime) -> tuple[list[str], list[Tag]]:
    """The names as the existing tags spell them, and the tags to create for the others."""
    spelled: list[str] = []
    new: dict[UUID, Tag] = {}
    for name in names:
        tag_id = tag_id_for(name)
        if tag_id in new:
            continue
        tag = uow.find(tag_id, Tag)
        if tag is None:
            tag = new[tag_id] = Tag.create(name=name, now=now)
        elif tag.name in spelled:
            continue
        spelled.append(tag.name)
    return spelled, list(new.values())
