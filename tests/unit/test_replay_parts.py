"""A parallel replay's parts: every aggregate in exactly one, counters added in one order,
and what a worker parked comes back whole."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import Column, Integer, MetaData, String, Table

from projections.folding import Add, Parked
from projections.read_models.replay import Part
from projections.store import child_statements
from shared.integration.envelope import Envelope


def test_every_aggregate_falls_in_exactly_one_part() -> None:
    parts = [Part(index, 3) for index in range(3)]

    for aggregate_id in (uuid4() for _ in range(300)):
        assert sum(part.holds(aggregate_id) for part in parts) == 1
        assert sum(part.holds(str(aggregate_id)) for part in parts) == 1


def test_the_whole_holds_every_aggregate() -> None:
    assert all(Part().holds(uuid4()) for _ in range(50))


def test_a_parked_message_comes_back_from_a_worker_whole() -> None:
    envelope = Envelope(
        id=uuid4(),
        type="event.booked",
        aggregate_type="event",
        aggregate_id=uuid4(),
        version=3,
        position=42,
        occurred_at=datetime(2026, 12, 6, tzinfo=UTC),
        data={"user_id": str(uuid4())},
    )
    parked = Parked(envelope, "VersionGap: version 3 after version 1")

    assert pickle.loads(pickle.dumps(parked)) == parked


def test_counters_are_added_table_by_table_and_key_by_key_whatever_order_they_came_in() -> None:
    metadata = MetaData()
    tables = {
        name: Table(
            name,
            metadata,
            Column("key", String, primary_key=True),
            Column("count", Integer),
        )
        for name in ("tags", "event_counts")
    }
    writes = [
        Add("tags", {"key": "рок"}, {"count": 1}),
        Add("event_counts", {"key": "upcoming"}, {"count": 1}),
        Add("tags", {"key": "джаз"}, {"count": 1}),
        Add("event_counts", {"key": "finished"}, {"count": 1}),
        Add("tags", {"key": "рок"}, {"count": 1}),
    ]

    statements = child_statements(tables, writes)

    assert [rows for _, rows in statements] == [
        [{"key": "finished", "count": 1}, {"key": "upcoming", "count": 1}],
        [{"key": "джаз", "count": 1}, {"key": "рок", "count": 2}],
    ]
