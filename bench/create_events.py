"""Event creation: commands/s of POST /api/events/ through the gateway, N concurrent clients.

Each client sends its next command as soon as the previous one is answered (closed
loop). With `--bare` the same commands also go straight to the application
(`Board.schedule_event` from N threads in the load process, the stack still running),
which shows how much of a command is HTTP and how much is the event store.

    uv run python bench/create_events.py --clients 16 --seconds 15 --runs 3 --bare
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import harness
import httpx
from loadgen import ConnectionPool, event_body, json_headers

from shared.application.board import Board
from shared.domain.event import EventDetails
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.settings import Settings

NAME = "create_events"
COLUMNS = {
    "created_per_s": "created/s",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "p99_ms": "p99 ms",
    "max_ms": "max ms",
    "commands_per_group": "per group",
    "errors": "errors",
}

Send = Callable[[int], Awaitable[int]]


def http_load(
    base_url: str, token: str, clients: int, seconds: float, client: str
) -> dict[str, Any]:
    """Runs in the load process: `clients` closed loops of POST /api/events/ for `seconds`."""
    return asyncio.run(_http_load(base_url, token, clients, seconds, client))


async def _http_load(
    base_url: str, token: str, clients: int, seconds: float, client: str
) -> dict[str, Any]:
    headers = json_headers(token)
    if client == "httpx":
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        session = httpx.AsyncClient(base_url=base_url, limits=limits, trust_env=False)

        async def send(number: int) -> int:
            response = await session.post(
                "/api/events/", content=event_body(number), headers=headers
            )
            return response.status_code

        close: Callable[[], Awaitable[None]] = session.aclose
    else:
        pool = await ConnectionPool(base_url, clients).open()

        async def send(number: int) -> int:
            async with pool.connection() as connection:
                response = await connection.request(
                    "POST", "/api/events/", headers=headers, body=event_body(number)
                )
                return response.status

        async def close() -> None:
            pool.close()

    try:
        return await _closed_loops(send, clients, seconds)
    finally:
        await close()


async def _closed_loops(send: Send, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(first: int) -> None:
        number = first
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                status = str(await send(number))
            except (OSError, ValueError, asyncio.IncompleteReadError, httpx.HTTPError) as error:
                status = type(error).__name__
            statuses[status] += 1
            if status == "201":
                latencies.append(time.perf_counter() - sent)
            number += clients

    await asyncio.gather(*(loop(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return _figures(latencies, statuses, elapsed, "201")


def bare_load(settings: dict[str, Any], clients: int, seconds: float) -> dict[str, Any]:
    """Runs in the load process: `clients` threads calling `Board.schedule_event` directly."""
    resolved = Settings(**settings)
    board = Board(resolved, env=event_store_env(resolved))
    caller = Caller(id=uuid4(), username="bench")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds

    def loop(mine: list[float]) -> None:
        number = 0
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                board.schedule_event(
                    EventDetails(
                        title=f"Benchmark event {number}",
                        description="An evening of chamber music in the old hall.",
                        start_time=datetime.now(UTC) + timedelta(days=30),
                        timezone="Europe/Moscow",
                        location="Москва, Большой зал",
                        seats=100,
                        tags=["music", "bench"],
                    ),
                    caller=caller,
                )
            except Exception as error:
                failures[type(error).__name__] += 1
            else:
                mine.append(time.perf_counter() - sent)
            number += 1

    try:
        with ThreadPoolExecutor(clients) as threads:
            list(threads.map(loop, latencies))
    finally:
        board.close()
    elapsed = time.perf_counter() - started
    statuses = Counter({"ok": sum(map(len, latencies)), **failures})
    flat = [latency for mine in latencies for latency in mine]
    return _figures(flat, statuses, elapsed, "ok")


def _figures(
    latencies: list[float], statuses: Counter[str], elapsed: float, ok: str
) -> dict[str, Any]:
    return {
        "created": statuses[ok],
        "created_per_s": round(statuses[ok] / elapsed, 1),
        **harness.latency_summary(latencies),
        "errors": sum(n for status, n in statuses.items() if status != ok),
        "statuses": dict(statuses),
        "seconds": round(elapsed, 2),
    }


def describe(run: dict[str, Any]) -> str:
    return (
        f"{run['created_per_s']:.0f}/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms,"
        f" {run.get('commands_per_group', '-')} per group, statuses {run['statuses']}"
    )


MODES = {"http": "through the gateway", "bare": "Board.schedule_event directly"}


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    cli.add_argument("--seconds", type=float, default=15.0, help="length of a run (default 15)")
    cli.add_argument("--warmup", type=float, default=3.0, help="unmeasured first seconds")
    cli.add_argument(
        "--client", choices=["lean", "httpx"], default="lean", help="HTTP client of the load"
    )
    cli.add_argument("--bare", action="store_true", help="also call the application directly")
    options = cli.parse_args()
    sections: dict[str, list[dict[str, Any]]] = {}
    with harness.open_bench(NAME) as bench, harness.load_process() as loader:
        token = bench.token()
        settings = bench.settings.model_dump()
        metrics = httpx.Client(base_url=bench.base_url, timeout=30, trust_env=False)

        def load(mode: str, seconds: float) -> dict[str, Any]:
            if mode == "bare":
                return loader.call(bare_load, settings, options.clients, seconds)
            # The gateway's counters: how many commands each commit group saved.
            before = harness.commit_counters(metrics)
            run: dict[str, Any] = loader.call(
                http_load, bench.base_url, token, options.clients, seconds, options.client
            )
            return {**run, **harness.commit_figures(before, harness.commit_counters(metrics))}

        for mode in ["http", "bare"] if options.bare else ["http"]:
            load(mode, options.warmup)
            sections[mode] = harness.measured_runs(
                bench,
                loader,
                options,
                partial(load, mode, options.seconds),
                describe,
                operations="created",
            )
            if options.py_spy:
                label = f"{NAME}-{mode}"
                with harness.profiled(
                    options.py_spy, bench, options.seconds, label, options.json.parent
                ):
                    load(mode, options.seconds)
    for mode, runs in sections.items():
        title = f"Event creation, {options.clients} clients, {options.seconds:.0f} s runs"
        harness.show(f"{title} ({MODES[mode]})", runs, COLUMNS)
    harness.write_json(options.json, options, sections)


if __name__ == "__main__":
    main()
