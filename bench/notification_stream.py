"""Notification stream: the CPU of many idle open streams, and how soon a new notification
reaches a connected client.

The gateway of `board up` starts alone (the stream needs no other process); `--users`
users are registered and the load process opens `--streams` streams spread over them
(raw HTTP/1.1 connections reading the event stream). Each run then has two phases:

- idle: nothing happens for `--seconds` while every stream stays open (heartbeat comments
  every 15 s); the stack's CPU is measured (target: 1 000 streams < 5 % of a core);
- latency: `--notifications` notifications are created, `--rate` a second, by inserting
  them into the read model as the notifier does (its trigger numbers them and notifies at
  commit), and each arrival at every open stream of its user is timed from just before
  the creating statement (target: p99 < 100 ms).

    uv run python bench/notification_stream.py --streams 1000 --users 20 --seconds 30
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import harness
import jwt
import psycopg

NAME = "notification_stream"
COLUMNS = {
    "streams": "streams",
    "cpu_stack_pct": "idle stack % of one core",
    "cpu_gateway_pct": "gateway %",
    "p50_ms": "p50 ms",
    "p99_ms": "p99 ms",
    "max_ms": "max ms",
    "missing": "missing",
}
STREAM_PATH = "/api/notifications/stream/"
_INSERT = (
    "INSERT INTO read_model.notifications (id, key, user_id, type, event_id, message, created_at)"
    " VALUES (%s, %s, %s, 'booking', %s, 'Вы успешно забронировали место.', %s)"
)
# How long the last notifications may take to arrive before they count as missing.
ARRIVAL_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Phases:
    """Signals between the benchmark and its load process (manager proxies)."""

    connected: Any
    measured: Any


async def open_stream(
    host: str, port: int, token: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream's connection; it stays open while its writer is kept."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {STREAM_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the stream was refused: {head[:60]!r}")
    return reader, writer


class Arrivals:
    """The id and time of every notification event any stream read, until `expected`."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: list[tuple[str, float]] = []
        self.all_in = asyncio.Event()

    async def read(self, reader: asyncio.StreamReader) -> None:
        # Chunk framing lines and heartbeat comments are skipped.
        while line := await reader.readline():
            if line.startswith(b"id: "):
                self.seen.append((line[4:].strip().decode(), time.monotonic()))
                if len(self.seen) >= self.expected:
                    self.all_in.set()


def stream_load(
    base_url: str,
    database_url: str,
    users: list[tuple[str, str]],
    streams: int,
    notifications: int,
    rate: float,
    phases: Phases,
) -> dict[str, Any]:
    """Runs in the load process: open the streams, say so, wait while the idle phase is
    measured, then create notifications and time their arrivals."""
    return asyncio.run(
        _stream_load(base_url, database_url, users, streams, notifications, rate, phases)
    )


async def _stream_load(
    base_url: str,
    database_url: str,
    users: list[tuple[str, str]],
    streams: int,
    notifications: int,
    rate: float,
    phases: Phases,
) -> dict[str, Any]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    owners = [users[n % len(users)] for n in range(streams)]
    started = time.monotonic()
    connections = []
    for _, token in owners:
        connections.append(await open_stream(host, port, token))
    connect_s = time.monotonic() - started
    per_user = Counter(owner for owner, _ in owners)
    created = [users[n % len(users)][0] for n in range(notifications)]
    arrivals = Arrivals(sum(per_user[owner] for owner in created))
    reading = [asyncio.create_task(arrivals.read(reader)) for reader, _ in connections]
    phases.connected.set()
    await asyncio.to_thread(phases.measured.wait)
    sent: dict[str, float] = {}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for owner in created:
            notification_id = uuid4()
            sent[str(notification_id)] = time.monotonic()
            await conn.execute(
                _INSERT,
                (notification_id, f"bench:{notification_id}", owner, uuid4(), datetime.now(UTC)),
            )
            await asyncio.sleep(1 / rate)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(ARRIVAL_TIMEOUT_SECONDS):
            await arrivals.all_in.wait()
    for task in reading:
        task.cancel()
    for _, writer in connections:
        writer.close()
    latencies = [at - sent[id_] for id_, at in arrivals.seen if id_ in sent]
    return {
        "streams": len(connections),
        "connect_s": round(connect_s, 2),
        "arrivals": len(latencies),
        "missing": arrivals.expected - len(latencies),
        **harness.latency_summary(latencies),
    }


def user_ids(tokens: list[str]) -> list[tuple[str, str]]:
    # The token's subject is the user's id (its signature is the gateway's business).
    return [(jwt.decode(t, options={"verify_signature": False})["sub"], t) for t in tokens]


def stack_total(run: dict[str, Any]) -> float:
    return round(
        sum(
            value
            for key, value in run.items()
            if key.startswith("cpu_")
            and key.endswith("_pct")
            and key.removeprefix("cpu_").removesuffix("_pct") not in harness.NOT_STACK
        ),
        1,
    )


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--streams", type=int, default=1000, help="open streams (default 1000)")
    cli.add_argument("--users", type=int, default=20, help="users they belong to (default 20)")
    cli.add_argument("--seconds", type=float, default=30.0, help="idle phase, s (default 30)")
    cli.add_argument("--notifications", type=int, default=200, help="created per run")
    cli.add_argument("--rate", type=float, default=20.0, help="notifications a second")
    options = cli.parse_args()
    runs = []
    with (
        harness.open_bench(NAME, only=("gateway",)) as bench,
        harness.load_process() as loader,
        ThreadPoolExecutor(max_workers=1) as waiting,
        multiprocessing.Manager() as manager,
    ):
        users = user_ids(bench.tokens(options.users))
        for number in range(1, options.runs + 1):
            bench.wait_for_quiet(options.quiet_below, options.quiet_wait)
            phases = Phases(manager.Event(), manager.Event())
            load = waiting.submit(
                loader.call,
                stream_load,
                bench.base_url,
                bench.settings.database_url,
                users,
                options.streams,
                options.notifications,
                options.rate,
                phases,
            )
            while not phases.connected.wait(timeout=0.1):
                if load.done():
                    load.result()
            probe = bench.probe(load=loader.pid)
            probe.start()
            time.sleep(options.seconds)
            run: dict[str, Any] = probe.stop()
            phases.measured.set()
            run.update(load.result())
            run["cpu_stack_pct"] = stack_total(run)
            run["disturbed"] = run["cpu_others_pct"] > options.max_others
            bench.check_alive()
            harness.console.print(
                f"run {number}: {run['streams']} streams idle: stack {run['cpu_stack_pct']} %"
                f" of a core; latency p50 {run.get('p50_ms')} ms, p99 {run.get('p99_ms')} ms,"
                f" {run['missing']} missing (others {run['cpu_others_pct']:.0f} % CPU)"
            )
            runs.append(run)
    harness.show(
        f"{options.streams} open streams of {options.users} users: idle {options.seconds:.0f} s,"
        f" then {options.notifications} notifications at {options.rate:g}/s"
        " (targets: idle < 5 % of a core, p99 < 100 ms)",
        runs,
        COLUMNS,
    )
    harness.write_json(options.json, options, {"streams": runs})
    print(json.dumps(harness.medians(runs)))


if __name__ == "__main__":
    main()
