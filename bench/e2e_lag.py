"""End-to-end lag: a write's commit until the query API shows it, at a steady write rate.

The load process creates events at `--rate` per second on a fixed schedule (open loop:
a slow answer does not delay the next write, up to `--connections` writes in flight;
`late` is how long a write waited for a free connection, and writes still waiting 2 s
after the run's end are not sent). Right after each POST /api/events/ is
answered it sends GET /api/events/{id}/ with `X-Min-Position` set to the write's
`X-Event-Position`; the lag is the time from the POST's answer (the commit) to the GET's
200. The outbox's `published_at` (set once the broker acknowledged) splits it into the relay's
part and the rest (broker, projector, watermark, query API).

    uv run python bench/e2e_lag.py --rate 100 --seconds 20 --runs 3
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import harness
import psycopg
from loadgen import ConnectionPool, event_body, json_headers

from shared.settings import EVENT_STORE_SCHEMA

NAME = "e2e_lag"
LATE_LIMIT_SECONDS = 2.0
NOT_SENT = "not sent: every connection busy"
COLUMNS = {
    "target_per_s": "target/s",
    "writes_per_s": "writes/s",
    "lag_p50_ms": "lag p50",
    "lag_p95_ms": "p95",
    "lag_p99_ms": "p99",
    "lag_max_ms": "max",
    "relay_p50_ms": "relay p50",
    "relay_p99_ms": "relay p99",
    "downstream_p50_ms": "down p50",
    "downstream_p99_ms": "down p99",
    "write_p50_ms": "POST p50",
    "write_p99_ms": "POST p99",
    "late_p99_ms": "late p99",
    "not_sent": "not sent",
    "errors": "errors",
}


def steady_writes(
    base_url: str, token: str, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    """Runs in the load process: writes on schedule, each followed by its consistent read."""
    return asyncio.run(_steady_writes(base_url, token, rate, seconds, connections))


async def _steady_writes(
    base_url: str, token: str, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    pool = await ConnectionPool(base_url, connections).open()
    headers = json_headers(token)
    writes: list[tuple[int, float, float, float]] = []  # position, answered (epoch), POST, lag
    late: list[float] = []
    statuses: Counter[str] = Counter()

    async def write_then_read(number: int, due: float) -> None:
        async with pool.connection() as connection:
            sent = time.perf_counter()
            if sent > give_up:
                statuses[NOT_SENT] += 1
                return
            late.append(sent - due)
            created = await connection.request(
                "POST", "/api/events/", headers=headers, body=event_body(number)
            )
            committed = time.perf_counter()
            committed_epoch = time.time()
            if created.status != 201:
                statuses[f"POST {created.status}"] += 1
                return
            position = created.headers["x-event-position"]
            read = await connection.request(
                "GET",
                f"/api/events/{created.json()['id']}/",
                headers={"X-Min-Position": position, "Authorization": headers["Authorization"]},
            )
            visible = time.perf_counter()
            statuses[f"GET {read.status}"] += 1
            if read.status == 200:
                writes.append(
                    (int(position), committed_epoch, committed - sent, visible - committed)
                )

    async def guarded(number: int, due: float) -> None:
        try:
            await write_then_read(number, due)
        except (OSError, ValueError, asyncio.IncompleteReadError) as error:
            statuses[type(error).__name__] += 1

    total = round(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    # A stack slower than the rate makes writes queue for a connection; those still queued
    # this long after the run's end are not sent, so a run ends on time.
    give_up = started + seconds + LATE_LIMIT_SECONDS
    for number in range(total):
        due = started + number / rate
        if (pause := due - time.perf_counter()) > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(guarded(number, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    pool.close()
    return {
        "target_per_s": rate,
        "writes": len(writes),
        "writes_per_s": round(len(writes) / elapsed, 1),
        **harness.latency_summary([lag for *_, lag in writes], "lag_"),
        **harness.latency_summary([post for _, _, post, _ in writes], "write_"),
        **harness.latency_summary(late, "late_"),
        "not_sent": statuses[NOT_SENT],
        "errors": total - len(writes) - statuses[NOT_SENT],
        "statuses": dict(statuses),
        "seconds": round(elapsed, 2),
        "writes_detail": [(position, at, lag) for position, at, _, lag in writes],
    }


def split_lag(database_url: str, writes: list[tuple[int, float, float]]) -> dict[str, float]:
    """Split each write's lag at the moment the relay marked it published (after the ack).

    `relay`: the POST's answer → published (negative when the relay was faster than the
    answer reached the client); `downstream`: published → the GET's 200 (broker, projector,
    watermark, query API). Both read the same clock: the host's.
    """
    with psycopg.connect(database_url) as conn:
        published: dict[int, float] = dict(
            conn.execute(
                f"SELECT position, extract(epoch FROM published_at)::float8"
                f" FROM {EVENT_STORE_SCHEMA}.outbox WHERE position = ANY(%s)",
                ([position for position, *_ in writes],),
            ).fetchall()
        )
    relay, downstream = [], []
    for position, answered, lag in writes:
        if (at := published.get(position)) is not None:
            relay.append(at - answered)
            downstream.append(answered + lag - at)
    return {
        **harness.latency_summary(relay, "relay_"),
        **harness.latency_summary(downstream, "downstream_"),
    }


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--rate", type=float, default=100.0, help="writes per second (default 100)")
    cli.add_argument("--seconds", type=float, default=20.0, help="length of a run (default 20)")
    cli.add_argument("--warmup", type=float, default=3.0, help="unmeasured first seconds")
    cli.add_argument(
        "--connections", type=int, default=64, help="most writes in flight at once (default 64)"
    )
    cli.set_defaults(json=None)
    options = cli.parse_args()
    options.json = options.json or harness.RESULTS_DIR / f"{NAME}_{options.rate:.0f}.json"
    with harness.open_bench(NAME) as bench, harness.load_process() as loader:
        token = bench.token()

        def load(seconds: float) -> dict[str, Any]:
            return loader.call(
                steady_writes, bench.base_url, token, options.rate, seconds, options.connections
            )

        def run_once() -> dict[str, Any]:
            run = load(options.seconds)
            run.update(split_lag(bench.settings.database_url, run.pop("writes_detail")))
            return run

        load(options.warmup)
        runs = harness.measured_runs(
            bench,
            loader,
            options,
            run_once,
            lambda run: (
                f"{run['writes_per_s']:.0f} writes/s, lag p50 {run['lag_p50_ms']}"
                f" p99 {run['lag_p99_ms']} ms, statuses {run['statuses']}"
            ),
            operations="writes",
        )
        if options.py_spy:
            with harness.profiled(
                options.py_spy, bench, options.seconds, NAME, options.json.parent
            ):
                load(options.seconds)
    harness.show(
        f"Commit → visible in the query API, target {options.rate:.0f} writes/s,"
        f" {options.seconds:.0f} s runs (ms)",
        runs,
        COLUMNS,
    )
    harness.write_json(options.json, options, {f"rate_{options.rate:.0f}": runs})


if __name__ == "__main__":
    main()
