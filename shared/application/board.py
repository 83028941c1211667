"""The Board application service: intent-revealing commands over the event store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import MutableOrImmutableAggregate, Snapshot
from eventsourcing.persistence import ApplicationRecorder, EventStore, Recording
from eventsourcing.popo import POPOFactory

from shared.application.commits import MAX_CONFLICT_RETRIES, Committer, PendingResponse
from shared.application.event_commands import EventCommands
from shared.application.idempotency import IDEMPOTENCY_KWARG, ResponseRecord
from shared.application.passwords import PasswordHasher
from shared.application.user_commands import UserCommands
from shared.auth.access import USER_ACCESS_KWARG, UserAccess
from shared.clock import Clock, SystemClock
from shared.domain.errors import EventNotFound
from shared.domain.event import Event
from shared.domain.user import User
from shared.infra.ddl_lock import event_store_ddl_lock
from shared.integration.events import to_integration_event
from shared.outbox.memory import MemoryRecorder
from shared.outbox.recorder import OUTBOX_KWARG, OutboxRecorder
from shared.settings import Settings

logger = logging.getLogger(__name__)

# A snapshot every this many domain events bounds what loading an event afresh replays;
# the snapshot of a popular event holds every active booking, so not much more often.
EVENT_SNAPSHOT_INTERVAL = 500


class Board(EventCommands, UserCommands, Application[UUID]):
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
        # Called with the ids of the users a save changed, once it is committed.
        self.on_access_changed: list[Callable[[list[UUID]], None]] = []
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
        with self._creating_tables():
            return super().construct_recorder()

    def construct_snapshot_store(self) -> EventStore[UUID]:
        with self._creating_tables():
            return super().construct_snapshot_store()

    def _creating_tables(self) -> AbstractContextManager[None]:
        # Both the recorder and the snapshot store create their tables when constructed;
        # unlocked, two processes creating one table together collide on its row type.
        if isinstance(self.factory, POPOFactory):
            return nullcontext()
        return event_store_ddl_lock(self.settings.database_url)

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
        recordings = super()._record(processing_event)
        changed = [access.user_id for access in processing_event.saved_kwargs[USER_ACCESS_KWARG]]
        if changed:
            for callback in self.on_access_changed:
                callback(changed)
        return recordings

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
