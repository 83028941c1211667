"""The Board application service: intent-revealing commands over the event store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, MutableOrImmutableAggregate, Snapshot
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Recording
from eventsourcing.popo import POPOFactory

from shared.application.commits import Committer, PendingResponse, Saved
from shared.application.event_commands import EventCommands
from shared.application.idempotency import IDEMPOTENCY_KWARG, ResponseRecord
from shared.application.passwords import PasswordHasher, check_password_strength
from shared.auth.access import USER_ACCESS_KWARG, UserAccess
from shared.clock import Clock, SystemClock
from shared.domain.errors import (
    ConcurrentModification,
    DomainError,
    EmailTaken,
    EventNotFound,
    InvalidCredentials,
    UsernameTaken,
    UserNotFound,
)
from shared.domain.event import Event
from shared.domain.user import (
    EmailClaim,
    User,
    check_email,
    check_username,
    email_claim_id_for,
    user_id_for,
)
from shared.integration.events import INTERNAL_TYPES, to_integration_event
from shared.outbox.memory import MemoryRecorder
from shared.outbox.recorder import OUTBOX_KWARG, OutboxRecorder
from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5
# A snapshot every this many domain events bounds what loading an event afresh replays;
# the snapshot of a popular event holds every active booking, so not much more often.
EVENT_SNAPSHOT_INTERVAL = 500
A = TypeVar("A", bound=Aggregate)


class Board(EventCommands, Application[UUID]):
    """Every write of the board goes through one of these methods, which end with `save`.

    The commands on events, bookings, ratings and tags (`EventCommands`) run in the
    committer's groups; the users' commands save one by one.
    """

    name = "Board"
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], int]] = {
        Event: EVENT_SNAPSHOT_INTERVAL
    }

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.passwords = PasswordHasher(settings)
        super().__init__(env)
        recorder = self.recorder
        if not isinstance(recorder, OutboxRecorder | MemoryRecorder):
            raise TypeError("the board stores its events with OutboxRecorder (event_store_env)")
        self.history = recorder
        self.commits = Committer(
            self,
            recorder,
            self.clock,
            cache_size=settings.aggregate_cache_size,
            max_retries=MAX_CONFLICT_RETRIES,
        )

    def construct_recorder(self) -> ApplicationRecorder:
        if isinstance(self.factory, POPOFactory):
            return MemoryRecorder()
        return super().construct_recorder()

    def close(self) -> None:
        self.commits.close()
        super().close()

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        # Every save also writes the outbox: the recorder inserts these rows in its transaction.
        processing_event.saved_kwargs[OUTBOX_KWARG] = [
            to_integration_event(e) for e in processing_event.events
        ]
        # ...and the rights of the users it saves, which every API checks on each request.
        processing_event.saved_kwargs[USER_ACCESS_KWARG] = [
            UserAccess.of(a) for a in processing_event.aggregates.values() if isinstance(a, User)
        ]
        # ...and the answers of keyed writes, each with the index of its write's last event.
        index = {id(e): i for i, e in enumerate(processing_event.events)}
        pending: list[PendingResponse] = processing_event.saved_kwargs.get(IDEMPOTENCY_KWARG, [])
        processing_event.saved_kwargs[IDEMPOTENCY_KWARG] = [
            ResponseRecord(
                user_id=p.idempotency.user_id,
                key=p.idempotency.key,
                fingerprint=p.idempotency.fingerprint,
                status=p.status,
                body=p.body,
                created_at=self.clock.now(),
                event_index=max(index[id(e)] for e in p.events),
            )
            for p in pending
        ]
        return super()._record(processing_event)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        # The library rebuilds the aggregate from the store to snapshot it; the aggregate just
        # saved is that very state, so it is snapshotted as it is, whenever a group's events
        # reach a multiple of the interval.
        if self.snapshots is None:
            return
        due = {}
        for domain_event in processing_event.events:
            aggregate = processing_event.aggregates.get(domain_event.originator_id)
            if aggregate is None:
                continue
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval and domain_event.originator_version % interval == 0:
                due[aggregate.id] = aggregate
        if due:
            self.snapshots.put([Snapshot.take(aggregate) for aggregate in due.values()])

    def get_event(self, event_id: UUID) -> Event:
        return self._get(event_id, Event, EventNotFound)

    def register_user(
        self, *, username: str, email: str, password: str, is_staff: bool = False
    ) -> Saved[User]:
        """Register a new user; the username and the e-mail are unique case-insensitively."""
        check_username(username)
        check_email(email)
        check_password_strength(password, username)
        now = self.clock.now()
        user = User.register(
            username=username,
            email=email,
            password_hash=self.passwords.hash(password),
            is_staff=is_staff,
            now=now,
        )
        claim = EmailClaim.claim(email=email, user_id=user.id, now=now) if email else None
        try:
            return Saved(user, self._save(user, claim))
        except IntegrityError:
            # Creating an aggregate with an id that exists is a taken name, not a race to retry.
            if self._exists(user.id):
                raise UsernameTaken from None
            if email and self._exists(email_claim_id_for(email)):
                raise EmailTaken from None
            raise

    def authenticate(self, username: str, password: str) -> User:
        """The active user with these credentials; one answer for every kind of failure."""
        try:
            user = self.get_user(user_id_for(username))
        except UserNotFound:
            user = None
        if not self.passwords.verify(password, user.password_hash if user else None):
            raise InvalidCredentials
        if user is None or not user.is_active:
            raise InvalidCredentials
        return user

    def get_user(self, user_id: UUID) -> User:
        return self._get(user_id, User, UserNotFound)

    def create_superuser(self, *, username: str, email: str, password: str) -> Saved[User]:
        """Create a staff user, or make the existing one staff with this password (idempotent)."""
        try:
            self.get_user(user_id_for(username))
        except UserNotFound:
            try:
                return self.register_user(
                    username=username, email=email, password=password, is_staff=True
                )
            except UsernameTaken:
                pass  # registered concurrently: fall through and update it

        def command(user: User) -> None:
            now = self.clock.now()
            if not self.passwords.verify(password, user.password_hash):
                check_password_strength(password, username)
                user.change_password(self.passwords.hash(password), occurred_at=now)
            user.grant_staff(now)

        return self._retrying(user_id_for(username), User, UserNotFound, command)

    def set_staff(self, user_id: UUID, *, is_staff: bool) -> Saved[User]:
        def command(user: User) -> None:
            if is_staff:
                user.grant_staff(self.clock.now())
            else:
                user.revoke_staff(self.clock.now())

        return self._retrying(user_id, User, UserNotFound, command)

    def deactivate_user(self, user_id: UUID) -> Saved[User]:
        return self._retrying(
            user_id, User, UserNotFound, lambda user: user.deactivate(self.clock.now())
        )

    def _exists(self, aggregate_id: UUID) -> bool:
        return any(True for _ in self.repository.event_store.get(aggregate_id, limit=1))

    def _get(self, aggregate_id: UUID, kind: type[A], missing: type[DomainError]) -> A:
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing from None
        if not isinstance(found, kind):
            raise missing
        return found

    def _retrying(
        self,
        aggregate_id: UUID,
        kind: type[A],
        missing: type[DomainError],
        command: Callable[[A], None],
    ) -> Saved[A]:
        """Run a command on a fresh copy of the aggregate, again if another writer won the race."""
        for attempt in range(1, MAX_CONFLICT_RETRIES + 1):
            found = self._get(aggregate_id, kind, missing)
            command(found)
            try:
                return Saved(found, self._save(found))
            except IntegrityError:
                logger.info("version conflict on %s, attempt %d", aggregate_id, attempt)
        raise ConcurrentModification

    def _save(self, *aggregates: Aggregate | None) -> int:
        recordings = self.save(*aggregates)
        # A command that changed nothing stored nothing: readers need not wait for it. Internal
        # events never reach a projection, so a watermark would never pass their positions.
        return max(
            (r.notification.id for r in recordings if type(r.domain_event) not in INTERNAL_TYPES),
            default=0,
        )
