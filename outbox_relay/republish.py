"""Sending the event store again, for a broker that lost data."""

from __future__ import annotations

import logging

import psycopg
from eventsourcing.persistence import Notification

from outbox_relay.producer import OutgoingMessage, build_producer, send_all
from outbox_relay.publisher import Row, record_sent
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.integration.envelope import encode_message
from shared.integration.events import to_integration_event
from shared.settings import Settings

logger = logging.getLogger(__name__)


def republish(settings: Settings, from_position: int) -> int:
    """Publish every stored domain event from `from_position` on; return how many were sent.

    Messages come from the event store through the same mapper as the outbox, so they
    carry the same ids and positions; consumers take them as the duplicates they are. What
    was sent where is recorded as the relay records it (the relay's head stays where it
    is: these events may not all be in the outbox yet), so consumers fetch it.
    """
    board = Board(settings, env=event_store_env(settings))
    producer = build_producer(settings, client_id="board-republish")
    sent = 0
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            start = from_position
            while notifications := board.recorder.select_notifications(
                start, settings.relay_batch_size
            ):
                rows = [row for row in (_to_row(board, n) for n in notifications) if row]
                messages = [
                    OutgoingMessage(settings.topic(stream), key.encode(), payload, position)
                    for position, stream, key, payload in rows
                ]
                record_sent(conn, rows, send_all(producer, messages), head=0)
                sent += len(rows)
                start = notifications[-1].id + 1
                logger.info("republished up to position %d", notifications[-1].id)
    finally:
        producer.close()
        board.close()
    return sent


def _to_row(board: Board, notification: Notification) -> Row | None:
    """The outbox row of this domain event; None for an internal one."""
    integration_event = to_integration_event(board.mapper.to_domain_event(notification))
    if integration_event is None:
        return None
    return (
        notification.id,
        integration_event.stream,
        integration_event.key,
        encode_message(integration_event.to_message(notification.id)),
    )
