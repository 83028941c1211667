"""Notifications are numbered in the order they become visible, and their recipients told."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
import pytest

from shared.integration.names import NOTIFICATIONS_CHANNEL
from shared.read_model.migrate import upgrade
from shared.settings import Settings

pytestmark = pytest.mark.integration

_INSERT = (
    "INSERT INTO read_model.notifications (id, key, user_id, type, event_id, message, created_at)"
    " VALUES (%s, %s, %s, 'booking', %s, 'text', %s) ON CONFLICT DO NOTHING"
)


def insert(
    conn: psycopg.Connection[tuple[object, ...]], notification_id: UUID, user_id: UUID
) -> None:
    conn.execute(
        _INSERT, (notification_id, str(notification_id), user_id, uuid4(), datetime.now(UTC))
    )


def numbers(database_url: str) -> dict[UUID, int | None]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id, seq FROM read_model.notifications").fetchall()
    return {row[0]: row[1] for row in rows}


def test_a_notification_committed_later_comes_later_whenever_it_was_inserted(
    settings: Settings,
) -> None:
    upgrade(settings.database_url)
    url = settings.database_url
    anna, boris = uuid4(), uuid4()
    first, second = uuid4(), uuid4()
    with (
        psycopg.connect(url, autocommit=True) as listener,
        psycopg.connect(url) as earlier,
        psycopg.connect(url) as later,
    ):
        listener.execute(f"LISTEN {NOTIFICATIONS_CHANNEL}")
        insert(earlier, first, anna)
        insert(later, second, boris)

        later.commit()
        earlier.commit()

        told = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]

    numbered = numbers(url)
    assert numbered[second] is not None
    assert numbered[first] is not None
    assert numbered[first] > numbered[second]
    assert sorted(told) == sorted([str(anna), str(boris)])


def test_inserting_a_notification_again_keeps_its_number(settings: Settings) -> None:
    upgrade(settings.database_url)
    anna, notification = uuid4(), uuid4()
    with psycopg.connect(settings.database_url) as conn:
        insert(conn, notification, anna)
    before = numbers(settings.database_url)[notification]

    with psycopg.connect(settings.database_url) as conn:
        insert(conn, notification, anna)

    assert before is not None
    assert numbers(settings.database_url)[notification] == before
