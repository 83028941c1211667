"""The Kafka side of the relay: one idempotent producer and a send that waits for every ack."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from kafka import KafkaProducer

from shared.integration.names import POSITION_KAFKA_HEADER
from shared.settings import Settings

# A whole relay batch fits in one request per partition instead of many 16 KiB ones.
PRODUCER_BATCH_BYTES = 512 * 1024
# Records gather until the flush that ends each relay batch (a flush sends at once, whatever
# the linger) instead of leaving one by one while the batch is still being appended.
LINGER_MS = 100
# A broker that does not answer fails the batch in seconds, so the relay backs off and retries.
REQUEST_TIMEOUT_MS = 10_000
DELIVERY_TIMEOUT_MS = 30_000


class OutgoingMessage(NamedTuple):
    topic: str
    key: bytes
    value: bytes
    position: int


class Sent(NamedTuple):
    """Where the broker put a message: its partition, and the offset after it there."""

    partition: int
    end_offset: int


def build_producer(settings: Settings, client_id: str = "board-outbox-relay") -> KafkaProducer:
    """An idempotent producer: `acks=all`, and retries cannot reorder or duplicate a partition."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        # One request in flight keeps order even on a broker that does not check idempotent
        # sequence numbers; it costs nothing, as a relay batch usually fits in one request.
        max_in_flight_requests_per_connection=1,
        linger_ms=LINGER_MS,
        batch_size=PRODUCER_BATCH_BYTES,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
        max_block_ms=REQUEST_TIMEOUT_MS,
        # Topics are created with their partition count by `ensure_topics`, never implicitly.
        allow_auto_create_topics=False,
        # Nothing reads the producer's metrics; recording them was ~4% of the relay's CPU.
        metrics_enabled=False,
    )


def send_all(producer: KafkaProducer, messages: Iterable[OutgoingMessage]) -> list[Sent]:
    """Send the messages in order; return once the broker acknowledged every one of them,
    with where each went.

    Each carries its position in a header too, so a consumer that cannot read a message's
    value still knows which position it held. Raises the first delivery error, so the
    caller records nothing as sent unless all were.
    """
    futures = [
        producer.send(
            m.topic,
            key=m.key,
            value=m.value,
            headers=[(POSITION_KAFKA_HEADER, str(m.position).encode())],
        )
        for m in messages
    ]
    producer.flush(timeout=DELIVERY_TIMEOUT_MS / 1000)
    # After a flush every future is done; `get` raises the error of a failed one.
    return [
        Sent(metadata.partition, metadata.offset + 1)
        for metadata in (future.get(timeout=0) for future in futures)
    ]
