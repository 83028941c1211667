"""The `Event` aggregate: the thing people attend, its bookings and ratings, and the domain
events that change it.

Bookings, the waitlist and ratings live in the event because the rules that hold them
together need one consistency boundary: no more bookings than seats, one active booking per
user, one rating per participant, and a freed seat going to the first in line at once (the
cancellation and the promotion are one decision, saved together). A popular event
therefore takes every booking on one aggregate; the application keeps it cached and saves
its bookings in groups (`shared/commits.py`), and snapshots bound what loading it afresh
costs.

Every command checks all of its rules before it records anything, so a refused command
leaves the aggregate as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from shared.domain.actors import upcast_no_actor
from shared.domain.errors import (
    AlreadyBooked,
    AlreadyWaitlisted,
    DeleteWindowClosed,
    EditWindowClosed,
    EventAlreadyStarted,
    EventNotBookable,
    EventNotPast,
    InvalidField,
    InvalidStatusTransition,
    NoFreeSeats,
    NotAParticipant,
    NotBooked,
    NotOrganizer,
    NotWaitlisted,
    SeatsAvailable,
    SeatsBelowBooked,
    StartedEventNotMovable,
    StartTimeInPast,
)

UPCOMING = "upcoming"
CANCELLED = "cancelled"
FINISHED = "finished"

# Where a booking came from: the user's own request, or a seat freed for the first in line.
DIRECT = "direct"
WAITLIST = "waitlist"

MIN_SCORE, MAX_SCORE = 1, 5
_CENTS = Decimal("0.01")


@dataclass(frozen=True)
class EventDetails:
    """What an organizer tells about an event when scheduling it, and may change later."""

    title: str
    description: str
    start_time: datetime
    timezone: str
    location: str
    seats: int
    tags: list[str]


EDITABLE_FIELDS = tuple(field.name for field in fields(EventDetails))


class Event(Aggregate):
    """An event on the board with its active bookings, its waitlist and its ratings, keyed
    by user id."""

    INTEGRATION_NAME: ClassVar[str] = "event"
    # Version 2 has a waitlist: snapshots taken before it are upcast with an empty one.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["waitlist"] = {}

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
        """Fields changed; `previous` holds the values they had, so participants can be told
        that the event moved from when and where."""

        class_version = 3
        changes: dict[str, Any]
        previous: dict[str, Any]
        by_user_id: UUID | None
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Stored before the old values travelled with the change; they are not known.
            state["previous"] = {}

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            upcast_no_actor(state)

    class Cancelled(Aggregate.Event):
        by_user_id: UUID
        occurred_at: datetime

    class Finished(Aggregate.Event):
        """`by_user_id` is the staff user who finished it; None for the status sweep."""

        class_version = 2
        by_user_id: UUID | None
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            upcast_no_actor(state)

    class Deleted(Aggregate.Event):
        by_user_id: UUID
        occurred_at: datetime

    class SeatBooked(Aggregate.Event):
        """A booking: the user's own (`DIRECT`), or the first in line's (`WAITLIST`), who
        leaves the line with it."""

        class_version = 2
        booking_id: UUID
        user_id: UUID
        username: str
        source: str
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["source"] = DIRECT

    class BookingCancelled(Aggregate.Event):
        booking_id: UUID
        user_id: UUID
        occurred_at: datetime

    class WaitlistJoined(Aggregate.Event):
        user_id: UUID
        username: str
        occurred_at: datetime

    class WaitlistLeft(Aggregate.Event):
        user_id: UUID
        occurred_at: datetime

    class WaitlistClosed(Aggregate.Event):
        """The event started, was cancelled or deleted: everyone still in line is let go."""

        user_ids: list[UUID]
        occurred_at: datetime

    class Rated(Aggregate.Event):
        """A participant's score; `previous_score` lets a read model replace the old one."""

        user_id: UUID
        score: int
        previous_score: int | None
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
        self.deleted = False
        # Keyed by `str(user_id)`: snapshots store the aggregate as JSON, whose keys are text.
        self.bookings: dict[str, str] = {}
        # User id → username, first in line first (dicts and their JSON keep this order).
        self.waitlist: dict[str, str] = {}
        self.ratings: dict[str, int] = {}
        self.scheduled_at = occurred_at
        self.changed_at = occurred_at

    @property
    def booked_count(self) -> int:
        return len(self.bookings)

    @property
    def free_seats(self) -> int:
        return self.seats - self.booked_count

    @classmethod
    def schedule(
        cls, details: EventDetails, *, organizer_id: UUID, organizer_username: str, now: datetime
    ) -> Event:
        check_start_time_in_future(details.start_time, now)
        given = {name: getattr(details, name) for name in EDITABLE_FIELDS}
        return cls._create(
            cls.Scheduled,
            id=uuid4(),
            **{**given, "tags": list(details.tags)},
            organizer_id=organizer_id,
            organizer_username=organizer_username,
            occurred_at=now,
        )

    def update(
        self,
        *,
        changes: dict[str, Any],
        status: str | None = None,
        by_user_id: UUID,
        by_staff: bool,
        now: datetime,
        edit_window_seconds: float,
    ) -> None:
        """Change fields and, with `status="cancelled"`, cancel; all or nothing.

        Checked in this order: who asks, the edit window (field changes only), the status
        transition, the values.
        """
        self.check_may_manage(by_user_id, by_staff)
        effective = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if effective and not by_staff:
            self.check_edit_window_open(now, edit_window_seconds)
        cancelling = self._check_status_change(status)
        if effective and self.status != UPCOMING:
            raise InvalidStatusTransition("Изменять можно только предстоящее мероприятие.")
        if "start_time" in effective:
            # Its participants may have rated it; moved ahead they could cancel and book.
            if self.has_started(now):
                raise StartedEventNotMovable
            check_start_time_in_future(effective["start_time"], now)
        if "seats" in effective and effective["seats"] < self.booked_count:
            raise SeatsBelowBooked
        if effective:
            previous = {name: getattr(self, name) for name in effective}
            self._record_update(
                changes=effective, previous=previous, by_user_id=by_user_id, occurred_at=now
            )
        if cancelling:
            self._cancel(by_user_id=by_user_id, occurred_at=now)
            self._close_waitlist(now)
        else:
            self._promote(now)

    def _check_status_change(self, status: str | None) -> bool:
        """Whether `status` asks to cancel; an upcoming event may stay upcoming, nothing else."""
        if status is None or (status == UPCOMING == self.status):
            return False
        if status == CANCELLED and self.status == UPCOMING:
            return True
        raise InvalidStatusTransition

    @event(Updated)
    def _record_update(
        self,
        changes: dict[str, Any],
        previous: dict[str, Any],
        by_user_id: UUID | None,
        occurred_at: datetime,
    ) -> None:
        for name, value in changes.items():
            setattr(self, name, list(value) if name == "tags" else value)
        self.changed_at = occurred_at

    def cancel(self, *, by_user_id: UUID, by_staff: bool, now: datetime) -> None:
        """Cancel an upcoming event, at any time (the organizer's, staff's, the admin's)."""
        self.check_may_manage(by_user_id, by_staff)
        self._check_status_change(CANCELLED)
        self._cancel(by_user_id=by_user_id, occurred_at=now)
        self._close_waitlist(now)

    @event(Cancelled)
    def _cancel(self, by_user_id: UUID, occurred_at: datetime) -> None:
        self.status = CANCELLED
        self.changed_at = occurred_at

    def finish(self, now: datetime, *, by_user_id: UUID | None = None) -> None:
        """An upcoming event that has started becomes finished (the status sweep's command,
        or staff's before the sweep comes)."""
        if self.status != UPCOMING or not self.has_started(now):
            raise InvalidStatusTransition
        self._close_waitlist(now)
        self._finish(by_user_id=by_user_id, occurred_at=now)

    @event(Finished)
    def _finish(self, by_user_id: UUID | None, occurred_at: datetime) -> None:
        self.status = FINISHED
        self.changed_at = occurred_at

    def delete(
        self, *, by_user_id: UUID, by_staff: bool, now: datetime, edit_window_seconds: float
    ) -> None:
        self.check_may_manage(by_user_id, by_staff)
        if not by_staff and self._window_closed(now, edit_window_seconds):
            raise DeleteWindowClosed
        self._close_waitlist(now)
        self._delete(by_user_id=by_user_id, occurred_at=now)

    @event(Deleted)
    def _delete(self, by_user_id: UUID, occurred_at: datetime) -> None:
        self.deleted = True
        self.changed_at = occurred_at

    def book(self, *, user_id: UUID, username: str, now: datetime) -> UUID:
        """Book a seat for the user; returns the new booking's id."""
        if self.status != UPCOMING or self.has_started(now):
            raise EventNotBookable
        if self.free_seats < 1:
            raise NoFreeSeats
        if str(user_id) in self.bookings:
            raise AlreadyBooked
        booking_id = uuid4()
        self._book(
            booking_id=booking_id,
            user_id=user_id,
            username=username,
            source=DIRECT,
            occurred_at=now,
        )
        return booking_id

    @event(SeatBooked)
    def _book(
        self, booking_id: UUID, user_id: UUID, username: str, source: str, occurred_at: datetime
    ) -> None:
        self.bookings[str(user_id)] = str(booking_id)
        self.waitlist.pop(str(user_id), None)

    def cancel_booking(self, *, user_id: UUID, now: datetime) -> UUID:
        """Cancel the user's active booking; returns its id."""
        booking_id = self.bookings.get(str(user_id))
        if booking_id is None:
            raise NotBooked
        if self.has_started(now):
            raise EventAlreadyStarted
        self._cancel_booking(booking_id=UUID(booking_id), user_id=user_id, occurred_at=now)
        self._promote(now)
        return UUID(booking_id)

    @event(BookingCancelled)
    def _cancel_booking(self, booking_id: UUID, user_id: UUID, occurred_at: datetime) -> None:
        del self.bookings[str(user_id)]

    def join_waitlist(self, *, user_id: UUID, username: str, now: datetime) -> int:
        """Put the user at the end of the line of a full event; returns their position."""
        if self.status != UPCOMING or self.has_started(now):
            raise EventNotBookable
        if self.free_seats > 0:
            raise SeatsAvailable
        if str(user_id) in self.bookings:
            raise AlreadyBooked
        if str(user_id) in self.waitlist:
            raise AlreadyWaitlisted
        self._join_waitlist(user_id=user_id, username=username, occurred_at=now)
        return len(self.waitlist)

    @event(WaitlistJoined)
    def _join_waitlist(self, user_id: UUID, username: str, occurred_at: datetime) -> None:
        self.waitlist[str(user_id)] = username

    def leave_waitlist(self, *, user_id: UUID, now: datetime) -> None:
        if str(user_id) not in self.waitlist:
            raise NotWaitlisted
        self._leave_waitlist(user_id=user_id, occurred_at=now)

    @event(WaitlistLeft)
    def _leave_waitlist(self, user_id: UUID, occurred_at: datetime) -> None:
        del self.waitlist[str(user_id)]

    def waitlist_position(self, user_id: UUID | None) -> int | None:
        """The user's place in line, 1 being next; None when not in it."""
        if user_id is None or str(user_id) not in self.waitlist:
            return None
        return list(self.waitlist).index(str(user_id)) + 1

    def close_waitlist(self, now: datetime) -> int:
        """Let go of everyone in line once the event has started (the status sweep's
        command); returns how many were in it."""
        if not self.has_started(now):
            return 0
        return self._close_waitlist(now)

    def _promote(self, now: datetime) -> None:
        """Give each free seat to the first in line, while the event can still be booked."""
        if self.status != UPCOMING or self.has_started(now):
            return
        while self.free_seats > 0 and self.waitlist:
            user_id, username = next(iter(self.waitlist.items()))
            self._book(
                booking_id=uuid4(),
                user_id=UUID(user_id),
                username=username,
                source=WAITLIST,
                occurred_at=now,
            )

    def _close_waitlist(self, now: datetime) -> int:
        waiting = len(self.waitlist)
        if waiting:
            self._record_waitlist_closed(
                user_ids=[UUID(user_id) for user_id in self.waitlist], occurred_at=now
            )
        return waiting

    @event(WaitlistClosed)
    def _record_waitlist_closed(self, user_ids: list[UUID], occurred_at: datetime) -> None:
        self.waitlist.clear()

    def rate(self, *, user_id: UUID, score: int, now: datetime) -> int | None:
        """Set the participant's score, replacing an earlier one; returns the earlier score.

        Bookings can be neither made nor cancelled once the event has started, so the
        active bookings now are the ones held when it started.
        """
        if self.status == CANCELLED or not self.has_started(now):
            raise EventNotPast
        if str(user_id) not in self.bookings:
            raise NotAParticipant
        check_score(score)
        previous_score = self.ratings.get(str(user_id))
        self._rate(user_id=user_id, score=score, previous_score=previous_score, occurred_at=now)
        return previous_score

    @event(Rated)
    def _rate(
        self, user_id: UUID, score: int, previous_score: int | None, occurred_at: datetime
    ) -> None:
        self.ratings[str(user_id)] = score

    def has_started(self, now: datetime) -> bool:
        return self.start_time <= now

    def check_may_manage(self, user_id: UUID, is_staff: bool) -> None:
        if not is_staff and user_id != self.organizer_id:
            raise NotOrganizer

    def check_edit_window_open(self, now: datetime, window_seconds: float) -> None:
        if self._window_closed(now, window_seconds):
            raise EditWindowClosed

    def _window_closed(self, now: datetime, window_seconds: float) -> bool:
        return (now - self.scheduled_at).total_seconds() > window_seconds

    def view(self, viewer_id: UUID | None = None) -> EventView:
        """The event as a response shows it, to `viewer_id` (whose booking and score it adds)."""
        scores = self.ratings.values()
        return EventView(
            id=self.id,
            **{name: getattr(self, name) for name in EDITABLE_FIELDS if name != "tags"},
            status=self.status,
            organizer_id=self.organizer_id,
            organizer_username=self.organizer_username,
            tags=tuple(self.tags),
            booked_count=self.booked_count,
            avg_rating=average_rating(sum(scores), len(scores)),
            rating_count=len(scores),
            created_at=self.scheduled_at,
            updated_at=self.changed_at,
            waitlist_length=len(self.waitlist),
            is_booked=viewer_id is not None and str(viewer_id) in self.bookings,
            my_rating=None if viewer_id is None else self.ratings.get(str(viewer_id)),
            my_waitlist_position=self.waitlist_position(viewer_id),
        )


@dataclass(frozen=True)
class EventView:
    """A copy of an event's state at one version: the aggregate itself stays cached and keeps
    changing while a response is being written."""

    id: UUID
    title: str
    description: str
    start_time: datetime
    timezone: str
    location: str
    seats: int
    status: str
    organizer_id: UUID
    organizer_username: str
    tags: tuple[str, ...]
    booked_count: int
    avg_rating: Decimal | None
    rating_count: int
    created_at: datetime
    updated_at: datetime
    waitlist_length: int
    is_booked: bool
    my_rating: int | None
    my_waitlist_position: int | None


def average_rating(score_sum: int, count: int) -> Decimal | None:
    """The average score to two decimals (half up), as the read model stores it."""
    if count == 0:
        return None
    return (Decimal(score_sum) / count).quantize(_CENTS, rounding=ROUND_HALF_UP)


def check_score(score: object) -> None:
    # A bool is an int to Python, never a score to a client.
    if type(score) is not int or not MIN_SCORE <= score <= MAX_SCORE:
        raise InvalidField("score", f"Оценка — целое число от {MIN_SCORE} до {MAX_SCORE}.")


def check_start_time_in_future(start_time: datetime, now: datetime) -> None:
    if start_time <= now:
        raise StartTimeInPast
