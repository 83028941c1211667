"""Bookings: POST /api/events/{id}/book/ through the gateway, spread over many events and
on one hot event, N concurrent clients (closed loops).

Every booking is made by a user of its own (a token minted in the load process), so no
request is refused for booking twice. `spread` books round-robin over `--events` events;
`hot` books one event, a fresh one per run. The write side's counters on `/metrics` give
the commands per commit group and the conflict retries (groups run again because another
writer changed an aggregate); after each hot run the query API's `booked_count` of the
event is compared with the bookings answered 201 (no oversell, none lost).

    uv run python bench/bookings.py --clients 64 --seconds 15 --runs 3
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from functools import partial
from typing import Any
from uuid import uuid4

import harness
import httpx
from loadgen import ConnectionPool, event_body, json_headers

from shared.auth.tokens import issue_access_token
from shared.settings import Settings

NAME = "bookings"
SEATS = 100_000
COLUMNS = {
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
MODES = {"spread": "spread over many events", "hot": "one hot event"}
_COUNTER = re.compile(r"^(board_\w+?)(?:_total)? ([0-9.e+]+)$", re.MULTILINE)


def booking_load(
    base_url: str, settings: dict[str, Any], event_ids: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    """Runs in the load process: `clients` closed loops booking `event_ids` round-robin."""
    return asyncio.run(_booking_load(base_url, Settings(**settings), event_ids, clients, seconds))


async def _booking_load(
    base_url: str, settings: Settings, event_ids: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    pool = await ConnectionPool(base_url, clients).open()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    last_position = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(first: int) -> None:
        nonlocal last_position
        number = first
        while time.perf_counter() < deadline:
            token = issue_access_token(settings, uuid4(), f"guest{number}", False)
            path = f"/api/events/{event_ids[number % len(event_ids)]}/book/"
            sent = time.perf_counter()
            try:
                async with pool.connection() as connection:
                    response = await connection.request(
                        "POST", path, headers=json_headers(token), body=b"{}"
                    )
            except (OSError, ValueError, asyncio.IncompleteReadError) as error:
                statuses[type(error).__name__] += 1
                continue
            if response.status == 201:
                latencies.append(time.perf_counter() - sent)
                last_position = max(last_position, int(response.headers["x-event-position"]))
                statuses["201"] += 1
            else:
                statuses[f"{response.status} {response.json().get('code')}"] += 1
            number += clients

    try:
        await asyncio.gather(*(loop(n) for n in range(clients)))
    finally:
        pool.close()
    elapsed = time.perf_counter() - started
    return {
        "booked": statuses["201"],
        "booked_per_s": round(statuses["201"] / elapsed, 1),
        **harness.latency_summary(latencies),
        "errors": sum(n for status, n in statuses.items() if status != "201"),
        "statuses": dict(statuses),
        "seconds": round(elapsed, 2),
        "last_position": last_position,
    }


def commit_counters(client: httpx.Client) -> dict[str, float]:
    """The write side's counters (`board_*`) from the gateway's `/metrics`."""
    page = client.get("/metrics").text
    return {name: float(value) for name, value in _COUNTER.findall(page)}


def create_events(client: httpx.Client, token: str, count: int) -> list[str]:
    ids = []
    for number in range(count):
        body = json.loads(event_body(number))
        response = client.post(
            "/api/events/", json={**body, "seats": SEATS, "tags": []}, headers=json_headers(token)
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
        self.token = bench.token()
        self.event_ids: list[str] = []

    def prepare(self, mode: str) -> None:
        count = self.options.events if mode == "spread" else 1
        if mode == "hot" or not self.event_ids:
            self.event_ids = create_events(self.client, self.token, count)

    def run(self, seconds: float) -> dict[str, Any]:
        before = commit_counters(self.client)
        run = self.loader.call(
            booking_load,
            self.bench.base_url,
            self.bench.settings.model_dump(),
            self.event_ids,
            self.options.clients,
            seconds,
        )
        after = commit_counters(self.client)
        delta = {k: after[k] - before.get(k, 0.0) for k in after}
        commands = max(delta.get("board_commands", 0.0), 1.0)
        run["commands_per_group"] = round(commands / max(delta.get("board_commit_groups", 0), 1), 1)
        run["conflict_retries"] = delta.get("board_conflict_retries", 0.0)
        run["retried_pct"] = round(100 * delta.get("board_retried_commands", 0.0) / commands, 2)
        if len(self.event_ids) == 1:
            # Every hot run books a fresh event: all its bookings are this run's.
            seen = booked_count(self.client, self.event_ids[0], run["last_position"])
            run["read_model_booked"] = seen
            run["oversold"] = seen > SEATS
            run["lost"] = run["booked"] - seen
        return run


def describe(run: dict[str, Any]) -> str:
    checked = f", read model {run['read_model_booked']}" if "read_model_booked" in run else ""
    return (
        f"{run['booked_per_s']:.0f}/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms,"
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
                operations="booked",
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
