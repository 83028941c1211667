"""Listing: GET /api/events/ with typical filters on a large board, N concurrent clients.

The board is filled by the bulk path (`board demo`: aggregates saved through the
recorder, with their outbox rows), its read models are rebuilt from the event store by
`board projections replay` (what ops run after a restore), and the gateway alone serves
it: the relay, projector and notifier would only be catching up on 1.3 million messages,
which on two cores takes hours and would be measured instead of the reads. Each query
then runs as closed loops through the gateway. The plans of the slowest query (its page and
its count) are written beside the figures.

Each query is asked by an anonymous visitor, whose page the read API may send again from
memory, and by a signed-in one (a registered user's token), whose page is always built
and whose count may be kept. Both caches are on by default; `BOARD_LISTING_CACHE_SECONDS=0`
measures every request down to the database.

    uv run python bench/listing.py --events 100000 --bookings 1000000 --ratings 200000

With `--keep` the filled database stays (named after the sizes) and a later run with the
same sizes measures it again without filling: migrations still run, so a schema change
is measured on the same board.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

import harness
import psycopg
from loadgen import ConnectionPool
from rich.progress import Progress

from board.demo_data import DemoSize, Filled, fill_board
from projections.read_models.replay import replay
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.settings import Settings

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


def http_load(
    base_url: str, path: str, headers: dict[str, str], clients: int, seconds: float
) -> dict[str, Any]:
    """Runs in the load process: `clients` closed loops of one GET for `seconds`."""
    return asyncio.run(_http_load(base_url, path, headers, clients, seconds))


async def _http_load(
    base_url: str, path: str, headers: dict[str, str], clients: int, seconds: float
) -> dict[str, Any]:
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
                    response = await connection.request("GET", path, headers=headers)
                    status = str(response.status)
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


def stored(settings: Settings) -> Filled | None:
    """What a kept database already holds, or None if it is empty."""
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM read_model.events),"
            " (SELECT count(*) FROM read_model.bookings),"
            " (SELECT count(*) FROM read_model.ratings),"
            " EXISTS (SELECT FROM event_store.board_events)"
        ).fetchone()
    assert row is not None
    if row[3] and not row[0]:
        raise SystemExit("the kept board was never rebuilt (an interrupted fill?): drop it")
    return Filled(*row[:3]) if row[3] else None


@dataclass
class Built:
    """The board measured, and how long filling and rebuilding it took (0: kept)."""

    filled: Filled | None = None
    fill_seconds: float = 0.0
    replayed_events: int = 0
    replay_seconds: float = 0.0


def build(settings: Settings, size: DemoSize, built: Built) -> None:
    """Fill the board by the bulk path and rebuild its read models, unless it is kept."""
    built.filled = stored(settings)
    if built.filled is not None:
        harness.console.print(f"measuring the kept board: {built.filled}")
        return
    started = time.monotonic()
    built.filled = fill(settings, size)
    built.fill_seconds = time.monotonic() - started
    started = time.monotonic()
    built.replayed_events = replay(settings)
    built.replay_seconds = time.monotonic() - started
    harness.console.print(
        f"stored {built.filled} in {built.fill_seconds:.0f} s; replayed"
        f" {built.replayed_events} events in {built.replay_seconds:.0f} s"
    )


def fill(settings: Settings, size: DemoSize) -> Filled:
    board = Board(settings, env=event_store_env(settings))
    try:
        with Progress(console=harness.console) as progress:
            task = progress.add_task("filling the board", total=size.events)
            return fill_board(
                board,
                size,
                now=datetime.now(UTC),
                on_saved=lambda done: progress.update(task, completed=done.events),
            )
    finally:
        board.close()


def plans_of(settings: Settings, params: dict[str, str]) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of the page query and of the count query the API runs for `params`."""
    from sqlalchemy import create_engine

    from query_api.event_filters import EventFilters
    from query_api.event_ordering import order_by
    from shared.read_model.views import events as views

    conditions = EventFilters.model_validate(params).conditions()
    order = order_by(params.get("ordering"))
    dialect = create_engine(settings.sqlalchemy_url).dialect
    queries = {
        "page": views.list_query(conditions, order, offset=0, limit=10),
        "count": views.count_query(conditions),
    }
    plans = {}
    with psycopg.connect(settings.database_url) as conn:
        for name, query in queries.items():
            sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            explained = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plans[name] = [str(row[0]) for row in explained]
    return plans


def describe(run: dict[str, Any]) -> str:
    return f"{run['per_s']:.0f}/s, p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms"


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--bookings", type=int, default=1_000_000)
    cli.add_argument("--ratings", type=int, default=200_000)
    cli.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    cli.add_argument("--seconds", type=float, default=10.0, help="length of a run (default 10)")
    cli.add_argument("--keep", action="store_true", help="keep the filled board for next time")
    options = cli.parse_args()
    size = DemoSize(options.events, options.bookings, options.ratings)
    kept = f"bench_listing_{size.events}_{size.bookings}_{size.ratings}" if options.keep else None
    sections: dict[str, list[dict[str, Any]]] = {}
    built = Built()
    with (
        harness.open_bench(
            NAME,
            only=("gateway",),
            keep_database=kept,
            prepare=partial(build, size=size, built=built),
        ) as bench,
        harness.load_process() as loader,
    ):
        audiences = {"anonymous": {}, "signed in": {"Authorization": f"Bearer {bench.token()}"}}
        measured = {}
        for name, params in queries(datetime.now(UTC)).items():
            for audience, headers in audiences.items():
                path = f"/api/events/?{urlencode(params)}"

                def load(
                    seconds: float, path: str = path, headers: dict[str, str] = headers
                ) -> dict[str, Any]:
                    return loader.call(
                        http_load, bench.base_url, path, headers, options.clients, seconds
                    )

                load(2.0)
                section = f"{name} ({audience})"
                measured[section] = (name, load)
                sections[section] = harness.measured_runs(
                    bench,
                    loader,
                    options,
                    partial(load, options.seconds),
                    describe,
                    operations="requests",
                    settle=False,
                )
        slowest_section = max(sections, key=lambda s: harness.medians(sections[s])["p95_ms"])
        slowest, slowest_load = measured[slowest_section]
        plans = plans_of(bench.settings, queries(datetime.now(UTC))[slowest])
        with harness.profiled(options.py_spy, bench, options.seconds, NAME, options.json.parent):
            slowest_load(options.seconds)
    for name, runs in sections.items():
        harness.show(f"{name}: {options.clients} clients, {options.seconds:.0f} s", runs, COLUMNS)
    for name, plan in plans.items():
        harness.console.print(
            f"slowest by p95: {slowest_section}, its {name} query", *plan, sep="\n"
        )
    harness.write_json(options.json, options, sections)
    document = json.loads(options.json.read_text())
    document.update(
        board=asdict(built),
        slowest=slowest_section,
        slowest_plans=plans,
    )
    options.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
