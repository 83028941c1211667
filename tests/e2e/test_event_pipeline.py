"""A write travels outbox → Kafka → faust → read model and is read back over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from board.up import Stack
from shared.integration.names import EVENTS_STREAM
from shared.outbox.recorder import OUTBOX_TABLE
from shared.settings import EVENT_STORE_SCHEMA
from tests.tokens import known_bearer

pytestmark = pytest.mark.e2e


def new_event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Лекция о Kafka",
        "description": "Как события доходят до читателей",
        "start_time": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "location": "Казань",
        "seats": 30,
        "tags": ["лекции"],
    }
    return {**body, **overrides}


def published_at(stack: Stack, position: int) -> datetime | None:
    with psycopg.connect(stack.settings.database_url) as conn:
        row = conn.execute(
            f"SELECT published_at FROM {EVENT_STORE_SCHEMA}.{OUTBOX_TABLE} WHERE position = %s",
            (position,),
        ).fetchone()
    assert row is not None, f"no outbox row at position {position}"
    published: datetime | None = row[0]
    return published


def messages_on_topic(stack: Stack) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        bootstrap_servers=stack.settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
    )
    topic = stack.settings.topic(EVENTS_STREAM)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    try:
        return [json.loads(record.value) for record in consumer]
    finally:
        consumer.close()


def test_a_created_event_is_read_back_once_the_projection_reaches_its_position(
    stack: Stack, api: httpx.Client
) -> None:
    created = api.post(
        "/api/events/", json=new_event(), headers=known_bearer(stack.settings, uuid4(), "olga")
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    position = int(created.headers["X-Event-Position"])

    detail = api.get(f"/api/events/{event_id}/", headers={"X-Min-Position": str(position)})

    assert detail.status_code == 200, detail.text
    assert detail.json() == {**created.json(), "is_booked": False, "my_rating": None}
    # The read model has no other way in than the topic: the row went out through the relay.
    on_topic = [m for m in messages_on_topic(stack) if m["aggregate_id"] == event_id]
    assert [m["type"] for m in on_topic] == ["event.scheduled"]
    # The write's position is its last domain event's; a new tag is stored with the event.
    assert on_topic[0]["position"] <= position
    assert published_at(stack, on_topic[0]["position"]) is not None


def test_a_change_is_listed_once_its_position_is_reflected(stack: Stack, api: httpx.Client) -> None:
    organizer = known_bearer(stack.settings, uuid4(), "pavel")
    created = api.post("/api/events/", json=new_event(title="Черновик"), headers=organizer)
    event_id = created.json()["id"]

    changed = api.patch(
        f"/api/events/{event_id}/", json={"title": "Итоговое название"}, headers=organizer
    )
    assert changed.status_code == 200, changed.text
    position = int(changed.headers["X-Event-Position"])
    assert position > int(created.headers["X-Event-Position"])

    listing = api.get(
        "/api/events/", params={"page_size": 100}, headers={"X-Min-Position": str(position)}
    )

    assert listing.status_code == 200, listing.text
    titles = {item["id"]: item["title"] for item in listing.json()["results"]}
    assert titles[event_id] == "Итоговое название"
