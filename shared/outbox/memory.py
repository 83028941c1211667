"""The in-memory recorder of unit tests, with what `OutboxRecorder` adds to the library's.

It keeps the answers of keyed writes with the events (under the library's one lock, as the
PostgreSQL recorder keeps them in the events' transaction) and lists an aggregate's events
with their positions. It has no outbox: nothing downstream reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from shared.application.idempotency import (
    IDEMPOTENCY_KWARG,
    RETENTION,
    KeptResponse,
    ResponseRecord,
    StoredResponse,
)


class MemoryRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._responses: dict[tuple[UUID, str], tuple[datetime, KeptResponse]] = {}

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self._database_lock:
            records: Sequence[ResponseRecord] = kwargs.get(IDEMPOTENCY_KWARG, ())
            for record in records:
                found = self._responses.get((record.user_id, record.key))
                if found is not None and found[0] >= record.created_at - RETENTION:
                    raise IntegrityError(f"key {record.key!r} is answered already")
            ids = super()._insert_events(stored_events, **kwargs) or []
            for record in records:
                response = StoredResponse(record.status, record.body, ids[record.event_index])
                self._responses[(record.user_id, record.key)] = (
                    record.created_at,
                    KeptResponse(record.fingerprint, response),
                )
            return ids

    def find_response(self, user_id: UUID, key: str, not_before: datetime) -> KeptResponse | None:
        with self._database_lock:
            found = self._responses.get((user_id, key))
        return found[1] if found is not None and found[0] >= not_before else None

    def prune_responses(self, before: datetime) -> None:
        with self._database_lock:
            for key, (created_at, _) in list(self._responses.items()):
                if created_at < before:
                    del self._responses[key]

    def aggregate_notifications(self, originator_id: UUID) -> list[Notification]:
        with self._database_lock:
            return [
                Notification(
                    id=index + 1,
                    originator_id=stored.originator_id,
                    originator_version=stored.originator_version,
                    topic=stored.topic,
                    state=stored.state,
                )
                for index in self._stored_events_index[str(originator_id)].values()
                for stored in [self._stored_events[index]]
            ]
