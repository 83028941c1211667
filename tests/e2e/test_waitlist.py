"""The waitlist over real HTTP to the stack of `board up`: joining and leaving, a freed
seat going to the first in line under a burst of cancellations and joins, the read model's
line, and the notifications of promotion and of a closed line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from board.up import Stack
from tests.tokens import known_token
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


def fan(stack: Stack) -> dict[str, str]:
    token = known_token(stack.settings, uuid4(), f"fan-{uuid4().hex[:6]}")
    return {"Authorization": f"Bearer {token}"}


def full_event(stack: Stack, api: httpx.Client, seats: int) -> tuple[str, dict[str, str], list]:
    """An event with every seat booked; its organizer and its bookers."""
    organizer = fan(stack)
    body = {
        "title": "Камерный концерт",
        "description": "Мест мало",
        "start_time": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "location": "Казань",
        "seats": seats,
    }
    created = api.post("/api/events/", json=body, headers=organizer)
    assert created.status_code == 201, created.text
    event_id: str = created.json()["id"]
    bookers = [fan(stack) for _ in range(seats)]
    for booker in bookers:
        assert api.post(f"/api/events/{event_id}/book/", headers=booker).status_code == 201
    return event_id, organizer, bookers


def detail(api: httpx.Client, event_id: str, caller: dict[str, str], position: str) -> Any:
    answer = api.get(f"/api/events/{event_id}/", headers={**caller, "X-Min-Position": position})
    assert answer.status_code == 200, answer.text
    return answer.json()


def notifications_of(api: httpx.Client, caller: dict[str, str], type_: str) -> list[Any]:
    answer = api.get("/api/notifications/", headers=caller)
    assert answer.status_code == 200, answer.text
    return [n for n in answer.json()["results"] if n["type"] == type_]


def test_joining_and_leaving_the_line_of_a_full_event(stack: Stack, api: httpx.Client) -> None:
    event_id, _organizer, [booker] = full_event(stack, api, seats=1)
    anna, boris = fan(stack), fan(stack)

    joined = api.post(f"/api/events/{event_id}/waitlist/", headers=anna)
    second = api.post(f"/api/events/{event_id}/waitlist/", headers=boris)
    again = api.post(f"/api/events/{event_id}/waitlist/", headers=anna)
    booked_one = api.post(f"/api/events/{event_id}/waitlist/", headers=booker)

    assert joined.status_code == 201, joined.text
    assert joined.json()["event_id"] == event_id
    assert (joined.json()["position"], second.json()["position"]) == (1, 2)
    assert (again.status_code, again.json()["code"]) == (400, "already_waitlisted")
    assert (booked_one.status_code, booked_one.json()["code"]) == (400, "already_booked")
    seen = detail(api, event_id, boris, second.headers["X-Event-Position"])
    assert (seen["waitlist_length"], seen["my_waitlist_position"]) == (2, 2)
    listed = api.get(
        "/api/events/",
        params={"has_waitlist": "true", "location": "Казань"},
        headers={"X-Min-Position": second.headers["X-Event-Position"]},
    ).json()["results"]
    assert event_id in [item["id"] for item in listed]
    assert {item["id"]: item["waitlist_length"] for item in listed}[event_id] == 2

    left = api.delete(f"/api/events/{event_id}/waitlist/", headers=anna)
    left_again = api.delete(f"/api/events/{event_id}/waitlist/", headers=anna)

    assert left.status_code == 204
    assert (left_again.status_code, left_again.json()["code"]) == (404, "not_waitlisted")
    seen = detail(api, event_id, boris, left.headers["X-Event-Position"])
    assert (seen["waitlist_length"], seen["my_waitlist_position"]) == (1, 1)
    assert (
        detail(api, event_id, anna, left.headers["X-Event-Position"])["my_waitlist_position"]
        is None
    )


def test_a_free_seat_is_booked_not_queued_for(stack: Stack, api: httpx.Client) -> None:
    event_id, _organizer, _bookers = full_event(stack, api, seats=2)
    api.post(f"/api/events/{event_id}/cancel_booking/", headers=_bookers[0])

    refused = api.post(f"/api/events/{event_id}/waitlist/", headers=fan(stack))

    assert (refused.status_code, refused.json()["code"]) == (400, "seats_available")


async def at_once(stack: Stack, requests: list[tuple[str, str, dict[str, str]]]) -> list[Any]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(
        base_url=stack.base_url, timeout=60, limits=limits, trust_env=False
    ) as client:
        return await asyncio.gather(
            *(client.request(method, path, headers=h) for method, path, h in requests)
        )


def test_ten_cancellations_among_twenty_joins_promote_exactly_the_first_ten_in_line(
    stack: Stack, api: httpx.Client
) -> None:
    event_id, organizer, bookers = full_event(stack, api, seats=10)
    line = [fan(stack) for _ in range(50)]
    for waiting in line:
        answer = api.post(f"/api/events/{event_id}/waitlist/", headers=waiting)
        assert answer.status_code == 201, answer.text
    late = [fan(stack) for _ in range(20)]

    answers = asyncio.run(
        at_once(
            stack,
            [("POST", f"/api/events/{event_id}/cancel_booking/", b) for b in bookers]
            + [("POST", f"/api/events/{event_id}/waitlist/", w) for w in late],
        )
    )

    assert [a.status_code for a in answers] == [200] * 10 + [201] * 20
    last = str(max(int(a.headers["X-Event-Position"]) for a in answers))
    seen = detail(api, event_id, organizer, last)
    assert (seen["booked_count"], seen["free_seats"], seen["waitlist_length"]) == (10, 0, 60)
    holding = [detail(api, event_id, w, last)["is_booked"] for w in line]
    assert holding == [True] * 10 + [False] * 40
    positions = [detail(api, event_id, w, last)["my_waitlist_position"] for w in line[10:]]
    assert positions == list(range(1, 41))
    for promoted in line[:10]:
        notices = eventually(
            lambda p=promoted: notifications_of(api, p, "waitlist_promoted"),
            "the promotion notice",
        )
        assert len(notices) == 1
        assert "листа ожидания" in notices[0]["message"]
        assert notifications_of(api, promoted, "booking") == []


def test_cancelling_the_event_closes_the_line_and_tells_everyone_in_it(
    stack: Stack, api: httpx.Client
) -> None:
    event_id, organizer, _bookers = full_event(stack, api, seats=1)
    line = [fan(stack) for _ in range(3)]
    for waiting in line:
        api.post(f"/api/events/{event_id}/waitlist/", headers=waiting)

    cancelled = api.patch(
        f"/api/events/{event_id}/", json={"status": "cancelled"}, headers=organizer
    )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["waitlist_length"] == 0
    for waiting in line:
        notices = eventually(
            lambda w=waiting: notifications_of(api, w, "waitlist_closed"), "the closing notice"
        )
        assert [n["type_display"] for n in notices] == ["Лист ожидания закрыт"]
    history = api.get(f"/api/events/{event_id}/history/", headers=organizer).json()
    types = [entry["type"] for entry in history]
    assert types.count("waitlist.joined") == 3
    assert types[-2:] == ["event.cancelled", "waitlist.closed"]
