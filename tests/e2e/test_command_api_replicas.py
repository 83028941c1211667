"""Two command API processes (two gateways) booking one popular event at the same time:
each runs its own committer over the same event store, so their groups race each other;
the store's versions keep the seats exact, and the retries they cost stay bounded."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest

from board.embedded import free_port, wait_for_port
from board.environment import settings_environment
from board.up import Stack
from tests.e2e.test_hot_event import popular_event, read_model
from tests.tokens import known_token

pytestmark = pytest.mark.e2e

SEATS = 100
FANS = 240
# A client sends a write the write side gave up on (409) again, up to this many times in all.
CLIENT_ATTEMPTS = 4
_COUNTER = re.compile(r"^(board_\w+?)(?:_total)? ([0-9.e+]+)$", re.MULTILINE)


@pytest.fixture
def second_gateway(stack: Stack) -> Iterator[str]:
    """Another `board serve` on the same stores: a second replica of the command API."""
    port = free_port()
    environment = {**os.environ, **settings_environment(stack.settings), "BOARD_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "board.cli", "serve"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def counters(base_url: str) -> Counter[str]:
    page = httpx.get(f"{base_url}/metrics", trust_env=False).text
    return Counter({name: float(value) for name, value in _COUNTER.findall(page)})


async def book(client: httpx.AsyncClient, event_id: str, token: str) -> httpx.Response:
    """Book as a client does: a 409 `concurrent_modification` (the write side gave up after
    its own retries, on a loaded machine) is sent again, a few times."""
    for _ in range(CLIENT_ATTEMPTS):
        answer = await client.post(
            f"/api/events/{event_id}/book/", headers={"Authorization": f"Bearer {token}"}
        )
        if answer.status_code != 409:
            break
    return answer


async def book_through(urls: list[str], event_id: str, tokens: list[str]) -> list[httpx.Response]:
    clients = [
        httpx.AsyncClient(
            base_url=url,
            timeout=60,
            limits=httpx.Limits(max_connections=len(tokens)),
            trust_env=False,
        )
        for url in urls
    ]
    try:
        return await asyncio.gather(
            *(book(clients[n % len(clients)], event_id, token) for n, token in enumerate(tokens))
        )
    finally:
        for client in clients:
            await client.aclose()


def test_two_replicas_booking_one_event_fill_it_exactly_with_bounded_retries(
    stack: Stack, api: httpx.Client, second_gateway: str
) -> None:
    event_id = popular_event(stack, api, seats=SEATS)
    tokens = [known_token(stack.settings, uuid4(), f"fan-{n}") for n in range(FANS)]
    urls = [stack.base_url, second_gateway]
    before = counters(stack.base_url) + counters(second_gateway)

    answers = asyncio.run(book_through(urls, event_id, tokens))

    spent = counters(stack.base_url) + counters(second_gateway)
    spent.subtract(before)
    outcomes = Counter("booked" if a.status_code == 201 else a.json()["code"] for a in answers)
    assert outcomes == {"booked": SEATS, "no_free_seats": FANS - SEATS}
    assert read_model(api, event_id, answers) == {"booked_count": SEATS, "free_seats": 0}
    # Every command ran at most a few times: the groups that lost a race ran again (and a
    # command that gave up was sent again by its client, as api.md allows).
    assert spent["board_retried_commands"] <= 3 * FANS
