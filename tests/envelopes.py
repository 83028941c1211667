"""Integration-event messages made from aggregates, as the outbox would carry them."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from shared.integration.envelope import Envelope
from shared.integration.events import to_integration_event


class Outbox:
    """Hands out global positions to what aggregates recorded, as the event store would."""

    def __init__(self) -> None:
        self.last = 0

    def messages(self, *aggregates: Aggregate) -> list[Envelope]:
        envelopes = []
        for aggregate in aggregates:
            for domain_event in aggregate.collect_events():
                integration_event = to_integration_event(domain_event)
                assert integration_event is not None
                self.last += 1
                envelopes.append(Envelope.of(integration_event.to_message(self.last)))
        return envelopes
