"""Calendar feed: GET /api/calendar/{token}.ics of a user with N bookings, C concurrent clients.

The stack of `board up` starts; one user books `--bookings` events through the API (the
pipeline projects them), asks for their feed URL, and the feed is then fetched in closed
loops through the gateway, as calendar apps poll it. Each request checks the token and
the feed's version in the read model (one query); the rendered feed is kept per process
while that version stands, so this measures the steady state of a feed nobody changes.
A second section changes the feed before every request of a single client (a booking of
another user's event moves nothing of this feed, so a cancellation and a re-booking of one
of the user's events alternate), measuring what a re-render costs.

    uv run python bench/calendar_feed.py --bookings 50 --clients 16 --seconds 10
"""

from __future__ import annotations

import asyncio
import json
import time
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import harness
import httpx
from listing import COLUMNS, http_load
from loadgen import ConnectionPool, event_body, json_headers

NAME = "calendar_feed"
TARGET_PER_S = 1_000


def booked_feed(bench: harness.Bench, bookings: int) -> tuple[str, str, str]:
    """A user holding `bookings` bookings: their token, the path of their feed, and the
    id of one booked event."""
    token = bench.token()
    headers = json_headers(token)
    event_ids = []
    with httpx.Client(base_url=bench.base_url, timeout=30, trust_env=False) as client:
        for number in range(bookings):
            created = client.post("/api/events/", content=event_body(number), headers=headers)
            created.raise_for_status()
            event_ids.append(created.json()["id"])
            client.post(f"/api/events/{event_ids[-1]}/book/", headers=headers).raise_for_status()
        bench.settle()
        url = client.get("/api/users/me/calendar/", headers=headers).json()["url"]
        feed = client.get(url)
        feed.raise_for_status()
        assert feed.text.count("BEGIN:VEVENT") == bookings, "the feed lacks bookings"
    return token, urlsplit(url).path, event_ids[0]


def changing_load(
    base_url: str, path: str, token: str, event_id: str, seconds: float
) -> dict[str, Any]:
    """Runs in the load process: one client; before each fetch the feed changes (one of its
    events is unbooked or booked again) and the fetch waits until the change is visible."""
    return asyncio.run(_changing_load(base_url, path, token, event_id, seconds))


async def _changing_load(
    base_url: str, path: str, token: str, event_id: str, seconds: float
) -> dict[str, Any]:
    pool = await ConnectionPool(base_url, 1).open()
    headers = json_headers(token)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    booked = True
    try:
        while time.perf_counter() < deadline:
            action = "cancel_booking" if booked else "book"
            booked = not booked
            async with pool.connection() as connection:
                changed = await connection.request(
                    "POST", f"/api/events/{event_id}/{action}/", headers=headers
                )
                position = changed.headers.get("x-event-position", "0")
                # The feed's own version moves once the events projection reflects the change.
                await connection.request(
                    "GET",
                    f"/api/events/{event_id}/calendar.ics",
                    headers={"X-Min-Position": position},
                )
                sent = time.perf_counter()
                fetched = await connection.request("GET", path)
                if fetched.status == 200:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors += 1
    finally:
        pool.close()
    return {"requests": len(latencies), **harness.latency_summary(latencies), "errors": errors}


def describe(run: dict[str, Any]) -> str:
    return f"{run.get('per_s', 0):.0f}/s, p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms"


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--bookings", type=int, default=50, help="the user's bookings (default 50)")
    cli.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    cli.add_argument("--seconds", type=float, default=10.0, help="length of a run (default 10)")
    options = cli.parse_args()
    with harness.open_bench(NAME) as bench, harness.load_process() as loader:
        token, path, event_id = booked_feed(bench, options.bookings)
        steady = partial(loader.call, http_load, bench.base_url, path, {}, options.clients)
        steady(min(2.0, options.seconds))
        runs = harness.measured_runs(
            bench,
            loader,
            options,
            partial(steady, options.seconds),
            describe,
            operations="requests",
            settle=False,
        )
        changing = harness.measured_runs(
            bench,
            loader,
            options,
            partial(
                loader.call, changing_load, bench.base_url, path, token, event_id, options.seconds
            ),
            describe,
        )
    harness.show(
        f"Feed of {options.bookings} bookings, unchanged: {options.clients} clients,"
        f" {options.seconds:.0f} s (target ≥ {TARGET_PER_S} req/s)",
        runs,
        COLUMNS,
    )
    harness.show(
        f"Feed of {options.bookings} bookings, changed before every request: one client",
        changing,
        {k: v for k, v in COLUMNS.items() if k != "per_s"},
    )
    harness.write_json(options.json, options, {"unchanged": runs, "changed": changing})
    print(json.dumps(harness.medians(runs)))


if __name__ == "__main__":
    main()
