"""Replay: rebuilding the read models from the event store (`board projections replay`).

A board is filled by the bulk path (`board demo`: aggregates saved through the recorder,
with their outbox rows); then each run rebuilds every read model from it, blue/green, as
ops would after a restore. Reported: domain events per second, and CPU per event of the
replaying process (the harness runs it) and of PostgreSQL. Nothing else of the stack
runs.

    uv run python bench/replay.py --events 20000 --bookings 200000 --ratings 40000 --runs 3
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import harness

from board.demo_data import DemoSize, fill_board
from projections.read_models.replay import replay
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.settings import Settings

NAME = "replay"
COLUMNS = {
    "events_per_s": "events/s",
    "seconds": "seconds",
    "replayed": "events",
}


def fill(settings: Settings, size: DemoSize) -> int:
    board = Board(settings, env=event_store_env(settings))
    try:
        return fill_board(board, size, now=datetime.now(UTC)).domain_events
    finally:
        board.close()


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--events", type=int, default=20_000)
    cli.add_argument("--bookings", type=int, default=200_000)
    cli.add_argument("--ratings", type=int, default=40_000)
    options = cli.parse_args()
    size = DemoSize(options.events, options.bookings, options.ratings)
    with harness.open_bench(NAME, stack=False) as bench, harness.load_process() as loader:
        started = time.monotonic()
        stored = fill(bench.settings, size)
        harness.console.print(
            f"filled {stored} domain events in {time.monotonic() - started:.0f} s"
        )

        def run_once() -> dict[str, Any]:
            started = time.monotonic()
            replayed = replay(bench.settings, progress=False)
            seconds = time.monotonic() - started
            return {
                "replayed": replayed,
                "seconds": round(seconds, 2),
                "events_per_s": round(replayed / seconds, 1),
            }

        runs = harness.measured_runs(
            bench,
            loader,
            options,
            run_once,
            lambda run: (
                f"{run['replayed']} events in {run['seconds']} s, {run['events_per_s']:.0f}/s"
            ),
            operations="replayed",
            settle=False,
        )
    harness.show(f"Replay of {stored} domain events", runs, COLUMNS)
    harness.write_json(options.json, options, {"replay": runs})


if __name__ == "__main__":
    main()
