"""Any sequence of commands on an `Event` keeps its invariants (a hypothesis state machine).

Beside the aggregate runs a model written from api.md: who holds a seat, who rated what,
the status, the seats and the start. Each command is sent to both; the model says which
refusal, checked in the contract's order, or success, and the aggregate must agree. After
every step: no more bookings than seats, at most one booking per user, ratings only from
participants of an event that started and was not cancelled, and the aggregate rebuilt
from the domain events it recorded equals the one that recorded them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import hypothesis
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from shared.domain import errors
from shared.domain.event import CANCELLED, FINISHED, UPCOMING, Event
from tests.builders import event_details

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW_SECONDS = 3600
ORGANIZER = uuid4()
USERS = (ORGANIZER, uuid4(), uuid4(), uuid4())
FIRST_SEATS = 2

users = st.sampled_from(USERS)
minutes = st.integers(min_value=-120, max_value=24 * 60)


@dataclass
class Model:
    """What the contract says the event holds."""

    seats: int
    start_time: datetime
    scheduled_at: datetime
    status: str = UPCOMING
    booked: set[UUID] = field(default_factory=set)
    scores: dict[UUID, int] = field(default_factory=dict)

    def started(self, now: datetime) -> bool:
        return self.start_time <= now


class EventCommands(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START - timedelta(hours=2)
        self.recorded: list[Any] = []

    @initialize(seats=st.integers(min_value=1, max_value=3))
    def schedule(self, seats: int) -> None:
        start = self.now + timedelta(hours=1)
        details = event_details(start_time=start, seats=seats)
        self.event = Event.schedule(
            details, organizer_id=ORGANIZER, organizer_username="org", now=self.now
        )
        self.model = Model(seats=seats, start_time=start, scheduled_at=self.now)
        self._collect()

    def _collect(self) -> None:
        self.recorded.extend(self.event.collect_events())

    def _expect(self, expected: type[Exception] | None, command: Callable[[], object]) -> bool:
        """Run `command`; the aggregate must refuse with `expected`, or succeed if None."""
        if expected is None:
            command()
            self._collect()
            return True
        with pytest.raises(expected):
            command()
        assert not self.event.collect_events(), "a refused command recorded something"
        return False

    @rule(by=minutes)
    def time_passes(self, by: int) -> None:
        self.now += timedelta(minutes=max(by, 0))

    @rule(user=users)
    def book(self, user: UUID) -> None:
        m = self.model
        expected: type[Exception] | None = None
        if m.status != UPCOMING or m.started(self.now):
            expected = errors.EventNotBookable
        elif len(m.booked) >= m.seats:
            expected = errors.NoFreeSeats
        elif user in m.booked:
            expected = errors.AlreadyBooked
        if self._expect(
            expected, lambda: self.event.book(user_id=user, username="u", now=self.now)
        ):
            m.booked.add(user)

    @rule(user=users)
    def cancel_booking(self, user: UUID) -> None:
        m = self.model
        expected: type[Exception] | None = None
        if user not in m.booked:
            expected = errors.NotBooked
        elif m.started(self.now):
            expected = errors.EventAlreadyStarted
        if self._expect(expected, lambda: self.event.cancel_booking(user_id=user, now=self.now)):
            m.booked.discard(user)

    @rule(user=users, score=st.integers(min_value=0, max_value=6))
    def rate(self, user: UUID, score: int) -> None:
        m = self.model
        expected: type[Exception] | None = None
        if m.status == CANCELLED or not m.started(self.now):
            expected = errors.EventNotPast
        elif user not in m.booked:
            expected = errors.NotAParticipant
        elif not 1 <= score <= 5:
            expected = errors.InvalidField
        if self._expect(expected, lambda: self.event.rate(user_id=user, score=score, now=self.now)):
            m.scores[user] = score

    @rule(
        by=users,
        staff=st.booleans(),
        seats=st.none() | st.integers(min_value=0, max_value=4),
        moved_by=st.none() | minutes,
        cancel=st.booleans(),
    )
    def update(
        self, by: UUID, staff: bool, seats: int | None, moved_by: int | None, cancel: bool
    ) -> None:
        m = self.model
        start = None if moved_by is None else m.start_time + timedelta(minutes=moved_by)
        changes = {
            name: value
            for name, value in (("seats", seats), ("start_time", start))
            if value is not None
        }
        new_seats = seats if seats not in (None, m.seats) else None
        new_start = start if start not in (None, m.start_time) else None
        changing = new_seats is not None or new_start is not None
        window_closed = (self.now - m.scheduled_at).total_seconds() > WINDOW_SECONDS
        expected: type[Exception] | None = None
        if by != ORGANIZER and not staff:
            expected = errors.NotOrganizer
        elif changing and not staff and window_closed:
            expected = errors.EditWindowClosed
        elif m.status != UPCOMING and (cancel or changing):
            expected = errors.InvalidStatusTransition
        elif new_start is not None and m.started(self.now):
            expected = errors.StartedEventNotMovable
        elif new_start is not None and new_start <= self.now:
            expected = errors.StartTimeInPast
        elif new_seats is not None and new_seats < len(m.booked):
            expected = errors.SeatsBelowBooked
        accepted = self._expect(
            expected,
            lambda: self.event.update(
                changes=changes,
                status=CANCELLED if cancel else None,
                by_user_id=by,
                by_staff=staff,
                now=self.now,
                edit_window_seconds=WINDOW_SECONDS,
            ),
        )
        if accepted:
            m.seats = m.seats if new_seats is None else new_seats
            m.start_time = m.start_time if new_start is None else new_start
            m.status = CANCELLED if cancel else m.status

    @rule(by=users, staff=st.booleans())
    def cancel_event(self, by: UUID, staff: bool) -> None:
        m = self.model
        expected: type[Exception] | None = None
        if by != ORGANIZER and not staff:
            expected = errors.NotOrganizer
        elif m.status != UPCOMING:
            expected = errors.InvalidStatusTransition
        if self._expect(
            expected, lambda: self.event.cancel(by_user_id=by, by_staff=staff, now=self.now)
        ):
            m.status = CANCELLED

    @rule()
    def finish(self) -> None:
        m = self.model
        ready = m.status == UPCOMING and m.started(self.now)
        expected = None if ready else errors.InvalidStatusTransition
        if self._expect(expected, lambda: self.event.finish(self.now)):
            m.status = FINISHED

    @invariant()
    def holds_what_the_contract_says(self) -> None:
        event, m = self.event, self.model
        assert event.booked_count <= event.seats
        assert {UUID(user) for user in event.bookings} == m.booked
        assert len(set(event.bookings.values())) == len(event.bookings)
        assert {UUID(user): score for user, score in event.ratings.items()} == m.scores
        assert (event.status, event.seats, event.start_time) == (
            m.status,
            m.seats,
            m.start_time,
        )

    @invariant()
    def ratings_come_only_from_participants_after_the_start(self) -> None:
        assert set(self.model.scores) <= self.model.booked
        start = self.model.start_time
        # The start in force when each rating was given: the last one recorded before it.
        for recorded in self.recorded:
            if isinstance(recorded, Event.Scheduled):
                start = recorded.start_time
            elif isinstance(recorded, Event.Updated):
                start = recorded.changes.get("start_time", start)
            elif isinstance(recorded, Event.Rated):
                assert recorded.occurred_at >= start

    @invariant()
    def the_recorded_events_rebuild_the_same_event(self) -> None:
        rebuilt: Event | None = None
        for domain_event in self.recorded:
            rebuilt = domain_event.mutate(rebuilt)
        assert rebuilt is not None
        assert rebuilt.view() == self.event.view()
        assert rebuilt.bookings == self.event.bookings
        assert rebuilt.ratings == self.event.ratings


EventCommands.TestCase.settings = hypothesis.settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
test_any_sequence_of_commands_keeps_the_events_invariants = EventCommands.TestCase
