"""The `Event` aggregate: the thing people attend, and the domain events that change it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from shared.domain.errors import (
    EditWindowClosed,
    InvalidStatusTransition,
    NotOrganizer,
    SeatsBelowBooked,
    StartTimeInPast,
)

UPCOMING = "upcoming"
CANCELLED = "cancelled"
FINISHED = "finished"

EDITABLE_FIELDS = ("title", "description", "start_time", "location", "timezone", "seats", "tags")


class Event(Aggregate):
    """An event on the board. Only the seat count of bookings lives here, so it stays small."""

    INTEGRATION_NAME: ClassVar[str] = "event"

    class Scheduled(Aggregate.Created):
        title: str
        description: str
        start_time: datetime
        timezone: str
        location: str
        seats: int
        tags: list[str]
        organizer_id: UUID
        organizer_username: str
        occurred_at: datetime

    class Updated(Aggregate.Event):
        changes: dict[str, Any]
        occurred_at: datetime

    def __init__(
        self,
        title: str,
        description: str,
        start_time: datetime,
        timezone: str,
        location: str,
        seats: int,
        tags: list[str],
        organizer_id: UUID,
        organizer_username: str,
        occurred_at: datetime,
    ) -> None:
        self.title = title
        self.description = description
        self.start_time = start_time
        self.timezone = timezone
        self.location = location
        self.seats = seats
        self.tags = list(tags)
        self.organizer_id = organizer_id
        self.organizer_username = organizer_username
        self.status = UPCOMING
        self.booked_count = 0
        self.scheduled_at = occurred_at
        self.changed_at = occurred_at

    @classmethod
    def schedule(
        cls,
        *,
        title: str,
        description: str,
        start_time: datetime,
        timezone: str,
        location: str,
        seats: int,
        tags: list[str],
        organizer_id: UUID,
        organizer_username: str,
        now: datetime,
    ) -> Event:
        check_start_time_in_future(start_time, now)
        return cls._create(
            cls.Scheduled,
            id=uuid4(),
            title=title,
            description=description,
            start_time=start_time,
            timezone=timezone,
            location=location,
            seats=seats,
            tags=list(tags),
            organizer_id=organizer_id,
            organizer_username=organizer_username,
            occurred_at=now,
        )

    def update(
        self,
        *,
        changes: dict[str, Any],
        by_user_id: UUID,
        by_staff: bool,
        now: datetime,
        edit_window_seconds: float,
    ) -> None:
        """Change the event's own fields; refuses the whole request if any rule fails."""
        self.check_may_manage(by_user_id, by_staff)
        effective = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not effective:
            return
        if not by_staff:
            self.check_edit_window_open(now, edit_window_seconds)
        if self.status != UPCOMING:
            raise InvalidStatusTransition("Изменять можно только предстоящее мероприятие.")
        if "start_time" in effective:
            check_start_time_in_future(effective["start_time"], now)
        if "seats" in effective and effective["seats"] < self.booked_count:
            raise SeatsBelowBooked
        self._record_update(changes=effective, occurred_at=now)

    @event(Updated)
    def _record_update(self, changes: dict[str, Any], occurred_at: datetime) -> None:
        for name, value in changes.items():
            setattr(self, name, list(value) if name == "tags" else value)
        self.changed_at = occurred_at

    def check_may_manage(self, user_id: UUID, is_staff: bool) -> None:
        if not is_staff and user_id != self.organizer_id:
            raise NotOrganizer

    def check_edit_window_open(self, now: datetime, window_seconds: float) -> None:
        if (now - self.scheduled_at).total_seconds() > window_seconds:
            raise EditWindowClosed


def check_start_time_in_future(start_time: datetime, now: datetime) -> None:
    if start_time <= now:
        raise StartTimeInPast
