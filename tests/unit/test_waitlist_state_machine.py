"""Any sequence of bookings, cancellations, joins, leaves and raised seats keeps the
waitlist's invariants: booked ≤ seats, no one both booked and in line, nobody waiting while
a seat is free, and the line served in the order people joined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from shared.domain.errors import DomainError
from shared.domain.event import Event
from tests.builders import event_details

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
USERS = [uuid4() for _ in range(6)]
users = st.sampled_from(USERS)


class WaitlistMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        details = event_details(NOW + timedelta(hours=3), seats=2)
        self.event = Event.schedule(
            details, organizer_id=uuid4(), organizer_username="organizer", now=NOW
        )
        # The line as the rules say it must be: who joined, in order, until served or gone.
        self.expected_line: list[UUID] = []

    @rule(user=users)
    def book(self, user: UUID) -> None:
        try:
            self.event.book(user_id=user, username="u", now=NOW)
        except DomainError:
            return

    @rule(user=users)
    def cancel(self, user: UUID) -> None:
        try:
            self.event.cancel_booking(user_id=user, now=NOW)
        except DomainError:
            return
        self._served()

    @rule(user=users)
    def join(self, user: UUID) -> None:
        try:
            position = self.event.join_waitlist(user_id=user, username="u", now=NOW)
        except DomainError:
            return
        self.expected_line.append(user)
        assert position == len(self.expected_line)

    @rule(user=users)
    def leave(self, user: UUID) -> None:
        try:
            self.event.leave_waitlist(user_id=user, now=NOW)
        except DomainError:
            assert user not in self.expected_line
            return
        self.expected_line.remove(user)

    @rule(more=st.integers(min_value=1, max_value=3))
    def raise_seats(self, more: int) -> None:
        self.event.update(
            changes={"seats": self.event.seats + more},
            by_user_id=uuid4(),
            by_staff=True,
            now=NOW,
            edit_window_seconds=0,
        )
        self._served()

    def _served(self) -> None:
        """Those at the head of the expected line who now hold a seat have left it."""
        while self.expected_line and str(self.expected_line[0]) in self.event.bookings:
            self.expected_line.pop(0)

    @invariant()
    def no_more_bookings_than_seats(self) -> None:
        assert self.event.booked_count <= self.event.seats

    @invariant()
    def no_one_is_both_booked_and_in_line(self) -> None:
        assert not set(self.event.bookings) & set(self.event.waitlist)

    @invariant()
    def nobody_waits_while_a_seat_is_free(self) -> None:
        assert not (self.event.waitlist and self.event.free_seats > 0)

    @invariant()
    def the_line_keeps_the_order_people_joined_in(self) -> None:
        assert list(self.event.waitlist) == [str(user) for user in self.expected_line]


WaitlistMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_the_waitlist_keeps_its_invariants_whatever_happens = WaitlistMachine.TestCase
