"""Listing: GET /api/events/ with typical filters on a large board, N concurrent clients.

The board is filled by the bulk path (`board demo`: aggregates saved through the
recorder, then relay → broker → projector like any write), the benchmark waits until
the read model reflects all of it, then runs each query as closed loops through the
gateway. The plan of the slowest query is written beside the figures.

    uv run python bench/listing.py --events 100000 --bookings 1000000 --ratings 200000
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

import harness
import psycopg
from loadgen import ConnectionPool
from rich.progress import Progress

from shared.application import Board
from shared.demo import DemoSize, Filled, fill_board
from shared.infra.database import event_store_env

NAME = "listing"
COLUMNS = {
    "per_s": "req/s",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "p99_ms": "p99 ms",
    "max_ms": "max ms",
    "errors": "errors",
}


def queries(now: datetime) -> dict[str, dict[str, str]]:
    """The typical listings: what a visitor of the board asks for."""
    month = now + timedelta(days=30)
    return {
        "no filter": {},
        "city + free seats": {"location": "Казань", "free_seats": "true"},
        "tag + date range": {
            "tag": "джа",
            "start_after": now.isoformat(),
            "start_before": month.isoformat(),
        },
        "search": {"search": "концерт"},
        "rating bounds + ordering": {
            "avg_rating__gte": "3",
            "avg_rating__lte": "4.5",
            "ordering": "-avg_rating",
        },
    }


def http_load(base_url: str, path: str, clients: int, seconds: float) -> dict[str, Any]:
    """Runs in the load process: `clients` closed loops of one GET for `seconds`."""
    return asyncio.run(_http_load(base_url, path, clients, seconds))


async def _http_load(base_url: str, path: str, clients: int, seconds: float) -> dict[str, Any]:
    pool = await ConnectionPool(base_url, clients).open()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                async with pool.connection() as connection:
                    status = str((await connection.request("GET", path)).status)
            except (OSError, ValueError, asyncio.IncompleteReadError) as error:
                status = type(error).__name__
            statuses[status] += 1
            if status == "200":
                latencies.append(time.perf_counter() - sent)

    try:
        await asyncio.gather(*(loop() for _ in range(clients)))
    finally:
        pool.close()
    elapsed = time.perf_counter() - started
    return {
        "requests": statuses["200"],
        "per_s": round(statuses["200"] / elapsed, 1),
        **harness.latency_summary(latencies),
        "errors": sum(n for status, n in statuses.items() if status != "200"),
        "statuses": dict(statuses),
        "seconds": round(elapsed, 2),
    }


def fill(bench: harness.Bench, size: DemoSize) -> Filled:
    board = Board(bench.settings, env=event_store_env(bench.settings))
    try:
        with Progress(console=harness.console) as progress:
            task = progress.add_task("filling the board", total=size.events)
            filled = fill_board(
                board,
                size,
                now=datetime.now(UTC),
                on_saved=lambda done: progress.update(task, completed=done.events),
            )
    finally:
        board.close()
    harness.console.print(f"stored {filled}")
    return filled


def wait_for_projection(bench: harness.Bench) -> float:
    """Block until the events read model reflects every stored event; return the seconds."""
    started = time.monotonic()
    with (
        psycopg.connect(bench.settings.database_url, autocommit=True) as conn,
        Progress(console=harness.console) as progress,
    ):
        last = conn.execute("SELECT max(position) FROM event_store.outbox").fetchone()
        target = int(last[0] if last and last[0] else 0)
        task = progress.add_task("projecting", total=target)
        while True:
            row = conn.execute(
                "SELECT position FROM read_model.watermarks WHERE projection = 'events'"
            ).fetchone()
            reached = int(row[0]) if row else 0
            progress.update(task, completed=reached)
            if reached >= target:
                return time.monotonic() - started
            bench.check_alive()
            time.sleep(1.0)


def plan_of(bench: harness.Bench, params: dict[str, str]) -> list[str]:
    """EXPLAIN ANALYZE of the page query the API runs for `params`."""
    from sqlalchemy import create_engine

    from query_api import views
    from query_api.event_filters import EventFilters
    from query_api.event_ordering import event_ordering

    filters = EventFilters.model_validate(params)
    order = event_ordering(params.get("ordering"))
    page = views.list_query(filters.conditions(), order, offset=0, limit=10)
    sql = str(
        page.compile(
            dialect=create_engine(bench.settings.sqlalchemy_url).dialect,
            compile_kwargs={"literal_binds": True},
        )
    )
    with psycopg.connect(bench.settings.database_url) as conn:
        return [str(row[0]) for row in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")]


def describe(run: dict[str, Any]) -> str:
    return f"{run['per_s']:.0f}/s, p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms"


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--bookings", type=int, default=1_000_000)
    cli.add_argument("--ratings", type=int, default=200_000)
    cli.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    cli.add_argument("--seconds", type=float, default=10.0, help="length of a run (default 10)")
    options = cli.parse_args()
    size = DemoSize(options.events, options.bookings, options.ratings)
    sections: dict[str, list[dict[str, Any]]] = {}
    with harness.open_bench(NAME) as bench, harness.load_process() as loader:
        filled = fill(bench, size)
        projected_in = wait_for_projection(bench)
        harness.console.print(f"projected in {projected_in:.0f} s")
        for name, params in queries(datetime.now(UTC)).items():
            path = f"/api/events/?{urlencode(params)}"

            def load(seconds: float, path: str = path) -> dict[str, Any]:
                return loader.call(http_load, bench.base_url, path, options.clients, seconds)

            load(2.0)
            sections[name] = harness.measured_runs(
                bench, loader, options, partial(load, options.seconds), describe
            )
        slowest = max(sections, key=lambda name: harness.medians(sections[name])["p95_ms"])
        plan = plan_of(bench, queries(datetime.now(UTC))[slowest])
    for name, runs in sections.items():
        harness.show(f"{name}: {options.clients} clients, {options.seconds:.0f} s", runs, COLUMNS)
    harness.console.print(f"slowest by p95: {slowest}", *plan, sep="\n")
    harness.write_json(options.json, options, sections)
    document = json.loads(options.json.read_text())
    document.update(
        filled=vars(filled),
        projected_seconds=round(projected_in, 1),
        slowest=slowest,
        slowest_plan=plan,
    )
    options.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
