"""The live notification stream through the stack of `board up`: bookings over HTTP, the
notifier process, and the caller's open stream over a real connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from board.up import Stack
from tests.tokens import known_bearer

pytestmark = pytest.mark.e2e

# Longer than the heartbeat: a loaded machine may take a while to notify.
STREAM_TIMEOUT = 60.0


def create_event(api: httpx.Client, organizer: dict[str, str]) -> str:
    created = api.post(
        "/api/events/",
        json={
            "title": "Лекция о потоках",
            "description": "Server-sent events",
            "start_time": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "location": "Новосибирск",
        },
        headers=organizer,
    )
    assert created.status_code == 201, created.text
    event_id: str = created.json()["id"]
    return event_id


def notifications(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The stream's notification events, as they come (heartbeat comments skipped)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if fields:
            assert fields["event"] == "notification"
            yield {"id": fields["id"], **json.loads(fields["data"])}
            fields = {}


def test_a_booking_made_through_the_api_arrives_on_an_open_stream(
    stack: Stack, api: httpx.Client
) -> None:
    organizer, guest = (
        known_bearer(stack.settings, uuid4(), "stream-olga"),
        known_bearer(stack.settings, uuid4(), "stream-gleb"),
    )
    event_id = create_event(api, organizer)

    with api.stream(
        "GET", "/api/notifications/stream/", headers=guest, timeout=STREAM_TIMEOUT
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        booked = api.post(f"/api/events/{event_id}/book/", headers=guest)
        assert booked.status_code == 201, booked.text

        received = next(notifications(stream.iter_lines()))

    assert (received["type"], received["event_id"]) == ("booking", event_id)
    shown = api.get(f"/api/notifications/{received['id']}/", headers=guest)
    assert shown.json() == received


def test_a_stream_resumed_with_last_event_id_gets_exactly_what_it_missed_then_live_ones(
    stack: Stack, api: httpx.Client
) -> None:
    organizer, guest = (
        known_bearer(stack.settings, uuid4(), "stream-oleg"),
        known_bearer(stack.settings, uuid4(), "stream-galya"),
    )
    event_id, later_event_id = create_event(api, organizer), create_event(api, organizer)
    with api.stream(
        "GET", "/api/notifications/stream/", headers=guest, timeout=STREAM_TIMEOUT
    ) as stream:
        assert api.post(f"/api/events/{event_id}/book/", headers=guest).status_code == 201
        last_seen = next(notifications(stream.iter_lines()))["id"]

    cancelled = api.post(f"/api/events/{event_id}/cancel_booking/", headers=guest)
    again = api.post(f"/api/events/{event_id}/book/", headers=guest)
    assert (cancelled.status_code, again.status_code) == (200, 201)
    created = api.get(
        "/api/notifications/",
        headers={**guest, "X-Min-Position": again.headers["X-Event-Position"]},
    )
    assert created.json()["count"] == 3

    resumed = {**guest, "Last-Event-ID": last_seen}
    with api.stream(
        "GET", "/api/notifications/stream/", headers=resumed, timeout=STREAM_TIMEOUT
    ) as stream:
        received = notifications(stream.iter_lines())
        missed = [next(received), next(received)]
        assert api.post(f"/api/events/{later_event_id}/book/", headers=guest).status_code == 201
        live = next(received)

    assert [(m["type"], m["event_id"]) for m in missed] == [
        ("cancel", event_id),
        ("booking", event_id),
    ]
    assert last_seen not in {m["id"] for m in missed}
    assert (live["type"], live["event_id"]) == ("booking", later_event_id)
