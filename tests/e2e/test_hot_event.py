"""A popular event under simultaneous bookings, over real HTTP to the stack of `board up`:
no more bookings than seats, one booking per user, and the read model agrees."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from board.up import Stack
from tests.tokens import known_token

pytestmark = pytest.mark.e2e


def bearer(stack: Stack) -> dict[str, str]:
    token = known_token(stack.settings, uuid4(), f"fan-{uuid4().hex[:6]}")
    return {"Authorization": f"Bearer {token}"}


def popular_event(stack: Stack, api: httpx.Client, seats: int) -> str:
    body = {
        "title": "Последний концерт",
        "description": "Все хотят попасть",
        "start_time": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        "location": "Москва",
        "seats": seats,
    }
    response = api.post("/api/events/", json=body, headers=bearer(stack))
    assert response.status_code == 201, response.text
    event_id: str = response.json()["id"]
    return event_id


async def book_at_once(
    stack: Stack, event_id: str, callers: list[dict[str, str]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(callers))
    async with httpx.AsyncClient(
        base_url=stack.base_url, timeout=60, limits=limits, trust_env=False
    ) as client:
        return await asyncio.gather(
            *(client.post(f"/api/events/{event_id}/book/", headers=h) for h in callers)
        )


def read_model(api: httpx.Client, event_id: str, answers: list[httpx.Response]) -> dict[str, int]:
    last = max(int(a.headers.get("X-Event-Position", 0)) for a in answers)
    detail = api.get(f"/api/events/{event_id}/", headers={"X-Min-Position": str(last)})
    assert detail.status_code == 200, detail.text
    return {k: detail.json()[k] for k in ("booked_count", "free_seats")}


def test_two_hundred_bookings_at_once_fill_fifty_seats_exactly(
    stack: Stack, api: httpx.Client
) -> None:
    event_id = popular_event(stack, api, seats=50)

    answers = asyncio.run(book_at_once(stack, event_id, [bearer(stack) for _ in range(200)]))

    outcomes = Counter("booked" if a.status_code == 201 else a.json()["code"] for a in answers)
    assert outcomes == {"booked": 50, "no_free_seats": 150}
    assert read_model(api, event_id, answers) == {"booked_count": 50, "free_seats": 0}


def test_one_user_booking_twice_at_once_gets_one_booking(stack: Stack, api: httpx.Client) -> None:
    event_id = popular_event(stack, api, seats=50)
    fan = bearer(stack)

    answers = asyncio.run(book_at_once(stack, event_id, [fan, fan]))

    outcomes = Counter("booked" if a.status_code == 201 else a.json()["code"] for a in answers)
    assert outcomes == {"booked": 1, "already_booked": 1}
    assert read_model(api, event_id, answers) == {"booked_count": 1, "free_seats": 49}
