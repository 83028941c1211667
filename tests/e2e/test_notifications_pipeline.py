"""Notifications through the stack of `board up`: a booking over HTTP, the notifier process,
and the caller's notifications read back and marked read over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from board.up import Stack
from tests.tokens import known_bearer

pytestmark = pytest.mark.e2e


def test_a_booking_reaches_the_bookers_notifications_through_the_notifier_process(
    stack: Stack, api: httpx.Client
) -> None:
    organizer, guest = (
        known_bearer(stack.settings, uuid4(), "olga"),
        known_bearer(stack.settings, uuid4(), "gleb"),
    )
    created = api.post(
        "/api/events/",
        json={
            "title": "Ночь музеев",
            "description": "Экскурсии до утра",
            "start_time": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "timezone": "Asia/Yekaterinburg",
            "location": "Екатеринбург",
        },
        headers=organizer,
    )
    event_id = created.json()["id"]
    start = datetime.fromisoformat(created.json()["start_time"])

    booked = api.post(f"/api/events/{event_id}/book/", headers=guest)
    listed = api.get(
        "/api/notifications/",
        headers={**guest, "X-Min-Position": booked.headers["X-Event-Position"]},
    )

    assert listed.status_code == 200, listed.text
    [notification] = listed.json()["results"]
    assert notification["type"] == "booking"
    assert notification["event_id"] == event_id
    # Yekaterinburg keeps UTC+5 all year.
    in_yekaterinburg = (start + timedelta(hours=5)).strftime("%d.%m.%Y %H:%M")
    assert notification["message"].endswith(f"начало — {in_yekaterinburg}.")
    marked = api.post(f"/api/notifications/{notification['id']}/read/", headers=guest)
    assert (marked.status_code, marked.json()["read"]) == (200, True)
    unread = api.get("/api/notifications/", params={"unread": "true"}, headers=guest)
    assert unread.json()["count"] == 0
