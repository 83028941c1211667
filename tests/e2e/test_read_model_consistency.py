"""After a burst of concurrent writes the read model says what the event store says."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from board.up import Stack
from shared.application.board import Board
from shared.domain.event import Event
from shared.infra.database import event_store_env
from tests.tokens import known_bearer

pytestmark = pytest.mark.e2e

EVENTS = 4
USERS = 30
WRITES_PER_USER = 6


def bearer(stack: Stack, user_id: UUID, username: str) -> dict[str, str]:
    return known_bearer(stack.settings, user_id, username)


async def burst(stack: Stack, event_ids: list[str], seed: int) -> int:
    """Every user books and cancels at random, all at once; returns the highest position."""
    rng = random.Random(seed)
    positions = [0]

    async def user(client: httpx.AsyncClient, number: int) -> None:
        headers = bearer(stack, uuid4(), f"burst{number}")
        for _ in range(WRITES_PER_USER):
            action = rng.choice(["book", "book", "cancel_booking"])
            response = await client.post(
                f"/api/events/{rng.choice(event_ids)}/{action}/", headers=headers
            )
            assert response.status_code in (200, 201, 400), response.text
            if response.status_code < 300:
                positions.append(int(response.headers["X-Event-Position"]))

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, trust_env=False) as client:
        await asyncio.gather(*(user(client, n) for n in range(USERS)))
    return max(positions)


def bookings_in_read_model(stack: Stack, event_id: str) -> dict[UUID, UUID]:
    with psycopg.connect(stack.settings.database_url) as conn:
        booked = conn.execute(
            "SELECT user_id, booking_id FROM read_model.bookings WHERE event_id = %s",
            (event_id,),
        ).fetchall()
    return dict(booked)


def test_the_read_model_agrees_with_the_event_store_after_a_burst_of_writes(
    stack: Stack, api: httpx.Client
) -> None:
    organizer = bearer(stack, uuid4(), "burst-organizer")
    body = {
        "title": "Мест мало",
        "description": "Успейте",
        "start_time": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
        "location": "Тверь",
        "seats": 12,
    }
    event_ids = [api.post("/api/events/", json=body, headers=organizer).json()["id"]]
    event_ids += [
        api.post("/api/events/", json={**body, "seats": 4}, headers=organizer).json()["id"]
        for _ in range(EVENTS - 1)
    ]

    last = asyncio.run(burst(stack, event_ids, seed=5))

    board = Board(stack.settings, env=event_store_env(stack.settings))
    try:
        for event_id in event_ids:
            stored = board.repository.get(UUID(event_id))
            assert isinstance(stored, Event)
            detail = api.get(f"/api/events/{event_id}/", headers={"X-Min-Position": str(last)})
            assert detail.status_code == 200, detail.text
            shown = detail.json()
            assert (shown["booked_count"], shown["free_seats"]) == (
                len(stored.bookings),
                stored.seats - len(stored.bookings),
            )
            assert shown["free_seats"] >= 0
            assert bookings_in_read_model(stack, event_id) == {
                UUID(u): UUID(b) for u, b in stored.bookings.items()
            }
    finally:
        board.close()
