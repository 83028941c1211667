"""Bookings: POST /api/events/{id}/book/ through the gateway, spread over many events and
on one hot event, N concurrent clients (closed loops).

Each client is a registered user with one token, as an app would be. `spread`: each client
books the events round-robin, a fresh set of `--events` events per run, so no booking is
refused for booking twice. `hot`: every client books one event, a fresh one per run, and
cancels again (book, cancel, book, ...); both count as operations. `waitlist`: the hot
event has seats for half the clients, so the other half wait in its line; a client holding
a seat cancels (which books it for the first in line in the same command) and joins the
line again; a client in line asks to cancel until its promotion has come (refused
`not_booked` meanwhile: counted apart, as `waiting`). Every cancellation is one booking.
The write side's counters on `/metrics` give the commands per commit group and the conflict
retries (groups run again because another writer changed an aggregate); after each hot run the
query API's `booked_count` of the event is compared with what the answers left booked (no
oversell, none lost).

    uv run python bench/bookings.py --clients 64 --seconds 15 --runs 3
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from functools import partial
from typing import Any

import harness
import httpx
from loadgen import ConnectionPool, event_body, json_headers

NAME = "bookings"
SEATS = 100_000
COLUMNS = {
    "operations_per_s": "ops/s",
    "booked_per_s": "booked/s",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "p99_ms": "p99 ms",
    "max_ms": "max ms",
    "errors": "errors",
    "commands_per_group": "per group",
    "conflict_retries": "conflict retries",
    "retried_pct": "retried %",
}
MODES = {
    "spread": "spread over many events",
    "hot": "one hot event",
    "waitlist": "one hot event with a waitlist",
}
# A client in line asks again this often whether its promotion has come.
WAITING_PAUSE_SECONDS = 0.01


def booking_load(
    base_url: str, tokens: list[str], event_ids: list[str], seconds: float, mode: str
) -> dict[str, Any]:
    """Runs in the load process: a closed loop per token booking `event_ids` round-robin,
    or (`hot`, `waitlist`) booking and cancelling the one event."""
    return asyncio.run(_booking_load(base_url, tokens, event_ids, seconds, mode))


# What a client does next, by mode, after each answer (its path after the event's).
_AFTER: dict[tuple[str, str], str] = {
    ("spread", "book/"): "book/",
    ("hot", "book/"): "cancel_booking/",
    ("hot", "cancel_booking/"): "book/",
    ("waitlist", "book/"): "cancel_booking/",
    ("waitlist", "cancel_booking/"): "waitlist/",
    ("waitlist", "waitlist/"): "cancel_booking/",
}
# Refusals that only tell a `waitlist` client where it stands: what it does instead.
_INSTEAD = {
    "no_free_seats": "waitlist/",
    "seats_available": "book/",
    "already_booked": "cancel_booking/",
}


async def _booking_load(
    base_url: str, tokens: list[str], event_ids: list[str], seconds: float, mode: str
) -> dict[str, Any]:
    pool = await ConnectionPool(base_url, len(tokens)).open()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    held = 0
    last_position = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(token: str, first: int) -> None:
        nonlocal held, last_position
        headers = json_headers(token)
        number = first
        action = "book/"
        while time.perf_counter() < deadline:
            event_id = event_ids[number % len(event_ids)]
            number += 1
            sent = time.perf_counter()
            try:
                async with pool.connection() as connection:
                    response = await connection.request(
                        "POST", f"/api/events/{event_id}/{action}", headers=headers, body=b"{}"
                    )
            except (OSError, ValueError, asyncio.IncompleteReadError) as error:
                statuses[type(error).__name__] += 1
                continue
            if response.status not in (200, 201):
                code = response.json().get("code")
                if mode == "waitlist" and code == "not_booked":
                    # In line: its promotion has not come yet.
                    statuses["waiting"] += 1
                    await asyncio.sleep(WAITING_PAUSE_SECONDS)
                elif mode == "waitlist" and code in _INSTEAD:
                    statuses[f"redirected {code}"] += 1
                    action = _INSTEAD[code]
                else:
                    statuses[f"{response.status} {code}"] += 1
                continue
            latencies.append(time.perf_counter() - sent)
            last_position = max(last_position, int(response.headers["x-event-position"]))
            statuses[action.rstrip("/")] += 1
            held += {"book/": 1, "cancel_booking/": -1}.get(action, 0)
            if mode == "waitlist" and action == "cancel_booking/":
                # The seat went to the first in line in the same command: a booking.
                statuses["promoted"] += 1
            action = _AFTER[(mode, action)]

    try:
        await asyncio.gather(*(loop(token, n) for n, token in enumerate(tokens)))
    finally:
        pool.close()
    elapsed = time.perf_counter() - started
    done = statuses["book"] + statuses["cancel_booking"] + statuses["waitlist"]
    booked = statuses["book"] + statuses["promoted"]
    return {
        "operations": done,
        "booked": booked,
        "booked_per_s": round(booked / elapsed, 1),
        "operations_per_s": round(done / elapsed, 1),
        **harness.latency_summary(latencies),
        "errors": sum(
            n
            for status, n in statuses.items()
            if status not in ("book", "cancel_booking", "waitlist", "waiting", "promoted")
            and not status.startswith("redirected")
        ),
        "statuses": dict(statuses),
        "seconds": round(elapsed, 2),
        "last_position": last_position,
        "held": held,
    }


def create_events(client: httpx.Client, token: str, count: int, seats: int) -> list[str]:
    ids = []
    for number in range(count):
        body = json.loads(event_body(number))
        response = client.post(
            "/api/events/", json={**body, "seats": seats, "tags": []}, headers=json_headers(token)
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


def booked_count(client: httpx.Client, event_id: str, position: int) -> int:
    response = client.get(
        f"/api/events/{event_id}/", headers={"X-Min-Position": str(position)}, timeout=30
    )
    response.raise_for_status()
    return int(response.json()["booked_count"])


class Bookings:
    """One mode's runs: the events it books, the load, the counters around each run."""

    def __init__(self, bench: harness.Bench, loader: harness.LoadProcess, options: Any) -> None:
        self.bench = bench
        self.loader = loader
        self.options = options
        self.client = httpx.Client(base_url=bench.base_url, timeout=30, trust_env=False)
        self.tokens = bench.tokens(options.clients)
        self.event_ids: list[str] = []
        self.mode = "spread"

    def prepare(self, mode: str) -> None:
        """Fresh events for every run, so every client may book each of them."""
        self.mode = mode
        count = self.options.events if mode == "spread" else 1
        seats = len(self.tokens) // 2 if mode == "waitlist" else SEATS
        self.event_ids = create_events(self.client, self.tokens[0], count, seats)

    def run(self, seconds: float) -> dict[str, Any]:
        before = harness.commit_counters(self.client)
        run = self.loader.call(
            booking_load,
            self.bench.base_url,
            self.tokens,
            self.event_ids,
            seconds,
            self.mode,
        )
        run.update(harness.commit_figures(before, harness.commit_counters(self.client)))
        if self.mode == "hot":
            # Every hot run books a fresh event: what it holds is what this run left booked.
            seen = booked_count(self.client, self.event_ids[0], run["last_position"])
            run["read_model_booked"] = seen
            run["oversold"] = seen > SEATS
            run["lost"] = run["held"] - seen
        elif self.mode == "waitlist":
            # Cancellations promote: the event stays full, never past its seats.
            seen = booked_count(self.client, self.event_ids[0], run["last_position"])
            run["read_model_booked"] = seen
            run["oversold"] = seen > len(self.tokens) // 2
        return run


def describe(run: dict[str, Any]) -> str:
    checked = f", read model {run['read_model_booked']}" if "read_model_booked" in run else ""
    return (
        f"{run['operations_per_s']:.0f} ops/s ({run['booked_per_s']:.0f} bookings/s),"
        f" p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms,"
        f" {run['commands_per_group']} per group, {run['conflict_retries']:.0f} conflict"
        f" retries, statuses {run['statuses']}{checked}"
    )


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    cli.add_argument("--seconds", type=float, default=15.0, help="length of a run (default 15)")
    cli.add_argument("--warmup", type=float, default=3.0, help="unmeasured first seconds")
    cli.add_argument("--events", type=int, default=1000, help="events of `spread` (default 1000)")
    cli.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    options = cli.parse_args()
    sections: dict[str, list[dict[str, Any]]] = {}
    with harness.open_bench(NAME) as bench, harness.load_process() as loader:
        bookings = Bookings(bench, loader, options)
        for mode in options.modes:
            bookings.prepare(mode)
            bookings.run(options.warmup)
            sections[mode] = harness.measured_runs(
                bench,
                loader,
                options,
                partial(bookings.run, options.seconds),
                describe,
                prepare=partial(bookings.prepare, mode),
                operations="operations",
            )
            if options.py_spy:
                with harness.profiled(
                    options.py_spy, bench, options.seconds, f"{NAME}-{mode}", options.json.parent
                ):
                    bookings.run(options.seconds)
    for mode, runs in sections.items():
        title = f"Bookings, {MODES[mode]}, {options.clients} clients, {options.seconds:.0f} s runs"
        harness.show(title, runs, COLUMNS)
    harness.write_json(options.json, options, sections)


if __name__ == "__main__":
    main()
