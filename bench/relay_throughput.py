"""The outbox relay: messages/s draining a backlog, and commit → broker ack at a steady rate.

Outbox rows are written the way the recorder writes them (positions from the event
store's sequence, under its table lock, with NOTIFY), holding real `event.scheduled`
integration events of new events, so the projector consumes and applies them meanwhile
as it would in production. The whole stack runs; the rows come from the load process.

- drain: `--backlog` rows committed in one transaction; throughput is the rows divided by
  the time from that commit to the relay marking the last of them published.
- steady: one row per transaction at `--rate` per second; the latency of a row is from
  its commit (the load process's clock) to `published_at`, which the relay sets right
  after the broker acknowledged the batch.

    uv run python bench/relay_throughput.py --backlog 50000 --rate 1000 --runs 3
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import harness
import psycopg
from psycopg import sql

from shared.domain.event import Event, EventDetails
from shared.integration.envelope import encode_message
from shared.integration.events import to_integration_event
from shared.integration.names import OUTBOX_CHANNEL
from shared.outbox.recorder import OUTBOX_TABLE
from shared.settings import EVENT_STORE_SCHEMA

NAME = "relay_throughput"
OUTBOX = sql.Identifier(EVENT_STORE_SCHEMA, OUTBOX_TABLE)
NOTIFY = sql.SQL("NOTIFY {}").format(sql.Identifier(OUTBOX_CHANNEL))
COPY = sql.SQL("COPY {} (position, event_id, stream, key, type, payload) FROM STDIN").format(OUTBOX)
INSERT = sql.SQL(
    "INSERT INTO {} (position, event_id, stream, key, type, payload)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
).format(OUTBOX)
DRAIN_COLUMNS = {
    "messages": "messages",
    "messages_per_s": "messages/s",
    "first_ms": "first acked ms",
    "drain_s": "drained in s",
}
STEADY_COLUMNS = {
    "commits_per_s": "commits/s",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "p99_ms": "p99 ms",
    "max_ms": "max ms",
}

Row = tuple[int, str, str, str, str, bytes]
# Rows built by `prepare_rows` in the load process, committed by the next call.
_prepared: list[Row] = []


def _events_table(conn: psycopg.Connection[Any]) -> sql.Identifier:
    found = conn.execute(
        "SELECT table_name FROM information_schema.columns"
        " WHERE table_schema = %s AND column_name = 'notification_id'",
        (EVENT_STORE_SCHEMA,),
    ).fetchone()
    assert found is not None, "the event store is not set up"
    return sql.Identifier(EVENT_STORE_SCHEMA, found[0])


def prepare_rows(database_url: str, count: int) -> int:
    """Load process: reserve `count` positions and build their outbox rows; return count."""
    organizer, now = uuid4(), datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        sequence = conn.execute(
            "SELECT pg_get_serial_sequence(%s, 'notification_id')",
            (_events_table(conn).as_string(conn),),
        ).fetchone()
        assert sequence is not None
        positions = [
            p
            for (p,) in conn.execute(
                "SELECT nextval(%s) FROM generate_series(1, %s)", (sequence[0], count)
            )
        ]
    _prepared.clear()
    for number, position in enumerate(positions):
        event = Event.schedule(
            EventDetails(
                title=f"Benchmark event {number}",
                description="An evening of chamber music in the old hall; programme: Haydn.",
                start_time=now + timedelta(days=30),
                timezone="Europe/Moscow",
                location="Москва, Большой зал",
                seats=100,
                tags=["music", "bench"],
            ),
            organizer_id=organizer,
            organizer_username="bench",
            now=now,
        )
        integration = to_integration_event(event.collect_events()[0])
        assert integration is not None
        payload = encode_message(integration.to_message(position))
        _prepared.append(
            (
                position,
                str(integration.id),
                integration.stream,
                integration.key,
                integration.type,
                payload,
            )
        )
    return len(_prepared)


def commit_backlog(database_url: str) -> tuple[int, int, float]:
    """Load process: commit the prepared rows in one transaction.

    Returns the first and last position and the wall-clock time the commit returned.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(_events_table(conn)))
            with conn.cursor().copy(COPY) as copy:
                for row in _prepared:
                    copy.write_row(row)
            conn.execute(NOTIFY)
        committed = time.time()
    return _prepared[0][0], _prepared[-1][0], committed


def commit_steadily(database_url: str, rate: float) -> list[tuple[int, float]]:
    """Load process: commit the prepared rows one per transaction at `rate` per second.

    Returns each row's position and the wall-clock time its commit returned.
    """
    committed: list[tuple[int, float]] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        table = _events_table(conn)
        lock = sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table)
        started = time.perf_counter()
        for number, row in enumerate(_prepared):
            if (pause := started + number / rate - time.perf_counter()) > 0:
                time.sleep(pause)
            # One round trip, as the recorder's pipeline does it.
            with conn.pipeline(), conn.transaction():
                conn.execute(lock)
                conn.execute(INSERT, row)
                conn.execute(NOTIFY)
            committed.append((row[0], time.time()))
    return committed


def _any_unpublished(conn: psycopg.Connection[Any], first: int, last: int) -> bool:
    # Served by the outbox's partial index of unpublished rows: cheap however long the range.
    row = conn.execute(
        sql.SQL(
            "SELECT 1 FROM {} WHERE published_at IS NULL AND position BETWEEN %s AND %s LIMIT 1"
        ).format(OUTBOX),
        (first, last),
    ).fetchone()
    return row is not None


def wait_until_published(database_url: str, first: int, last: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while _any_unpublished(conn, first, last):
            if time.monotonic() > deadline:
                raise TimeoutError(f"positions {first}..{last} not published in {timeout} s")
            time.sleep(0.05)


def drain(bench: harness.Bench, loader: harness.LoadProcess) -> dict[str, Any]:
    url = bench.settings.database_url
    first, last, committed = loader.call(commit_backlog, url)
    wait_until_published(url, first, last)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), extract(epoch FROM min(published_at)),"
                " extract(epoch FROM max(published_at)) FROM {} WHERE position BETWEEN %s AND %s"
            ).format(OUTBOX),
            (first, last),
        ).fetchone()
    assert row is not None
    count, first_at, last_at = int(row[0]), float(row[1]), float(row[2])
    elapsed = last_at - committed
    return {
        "messages": count,
        "messages_per_s": round(count / elapsed, 1),
        "first_ms": round((first_at - committed) * 1000, 1),
        "drain_s": round(elapsed, 2),
    }


def steady(
    bench: harness.Bench, loader: harness.LoadProcess, rate: float, seconds: float
) -> dict[str, Any]:
    url = bench.settings.database_url
    started = time.perf_counter()
    commits = loader.call(commit_steadily, url, rate)
    elapsed = time.perf_counter() - started
    wait_until_published(url, commits[0][0], commits[-1][0])
    with psycopg.connect(url) as conn:
        published: dict[int, float] = dict(
            conn.execute(
                sql.SQL(
                    "SELECT position, extract(epoch FROM published_at) FROM {}"
                    " WHERE position BETWEEN %s AND %s"
                ).format(OUTBOX),
                (commits[0][0], commits[-1][0]),
            ).fetchall()
        )
    latencies = [float(published[position]) - at for position, at in commits]
    return {
        "target_per_s": rate,
        "commits_per_s": round(len(commits) / elapsed, 1),
        **harness.latency_summary(latencies),
    }


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--backlog", type=int, default=50_000, help="rows to drain (default 50000)")
    cli.add_argument("--rate", type=float, default=1000.0, help="steady commits/s (default 1000)")
    cli.add_argument("--seconds", type=float, default=10.0, help="steady run length (default 10)")
    options = cli.parse_args()
    with harness.open_bench(NAME) as bench, harness.load_process() as loader:
        url = bench.settings.database_url
        steady_rows = round(options.rate * options.seconds)
        drained = harness.measured_runs(
            bench,
            loader,
            options,
            partial(drain, bench, loader),
            lambda run: f"drained {run['messages']} at {run['messages_per_s']:.0f}/s",
            prepare=partial(loader.call, prepare_rows, url, options.backlog),
            operations="messages",
            settle=False,
        )
        steadily = harness.measured_runs(
            bench,
            loader,
            options,
            partial(steady, bench, loader, options.rate, options.seconds),
            lambda run: (
                f"{run['commits_per_s']:.0f} commits/s, p50 {run['p50_ms']} p99 {run['p99_ms']} ms"
            ),
            prepare=partial(loader.call, prepare_rows, url, steady_rows),
        )
        if options.py_spy:
            loader.call(prepare_rows, url, options.backlog)
            with harness.profiled(options.py_spy, bench, 5, NAME, options.json.parent):
                drain(bench, loader)
    harness.show(f"Relay draining a backlog of {options.backlog} rows", drained, DRAIN_COLUMNS)
    harness.show(
        f"Relay, commit → broker ack at {options.rate:.0f} commits/s, {options.seconds:.0f} s runs",
        steadily,
        STEADY_COLUMNS,
    )
    harness.write_json(
        options.json, options, {"drain": drained, f"steady_{options.rate:.0f}": steadily}
    )


if __name__ == "__main__":
    main()
