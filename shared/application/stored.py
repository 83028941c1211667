"""Loading and saving aggregates one by one, for the commands that do not run in groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording

from shared.domain.errors import DomainError
from shared.integration.events import INTERNAL_TYPES

A = TypeVar("A", bound=Aggregate)


class StoredAggregates:
    """Mixed into `Board`, whose `Application` provides the repository and `save`."""

    repository: Repository[UUID]
    save: Callable[..., list[Recording[UUID]]]

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

    def _save(self, *aggregates: Aggregate | None) -> int:
        """Save; the position of the last public domain event stored, 0 for none."""
        recordings = self.save(*aggregates)
        # A command that changed nothing stored nothing: readers need not wait for it. Internal
        # events never reach a projection, so a watermark would never pass their positions.
        return max(
            (r.notification.id for r in recordings if type(r.domain_event) not in INTERNAL_TYPES),
            default=0,
        )
