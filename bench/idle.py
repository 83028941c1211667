"""Idle: the CPU the whole stack of `board up` uses while nobody uses it.

The stack starts, takes a few writes so that every process has done real work (consumer
groups joined, pools opened, caches warm), works them off, and is then measured doing
nothing for `--seconds`, per process (PostgreSQL, the broker, relay, projector, notifier,
gateway, and the harness, which plays `board up`'s part of supervising the children).

    uv run python bench/idle.py --seconds 30 --runs 3
"""

from __future__ import annotations

import json
import time
from typing import Any

import harness
import httpx
from loadgen import event_body, json_headers

NAME = "idle"
WARM_WRITES = 20
COLUMNS = {"cpu_stack_pct": "stack % of one core", "cpu_others_pct": "others %"}


def warm_up(bench: harness.Bench) -> None:
    """A few writes through the whole pipeline, worked off before anything is measured."""
    token = bench.token()
    with httpx.Client(base_url=bench.base_url, timeout=30, trust_env=False) as client:
        for number in range(WARM_WRITES):
            created = client.post(
                "/api/events/", content=event_body(number), headers=json_headers(token)
            )
            created.raise_for_status()
            booked = client.post(
                f"/api/events/{created.json()['id']}/book/", headers=json_headers(token)
            )
            booked.raise_for_status()
    bench.settle()


def idle_run(bench: harness.Bench, seconds: float) -> dict[str, Any]:
    time.sleep(seconds)
    return {"seconds": seconds}


def with_stack_total(run: dict[str, Any]) -> dict[str, Any]:
    stack = [
        value
        for key, value in run.items()
        if key.startswith("cpu_")
        and key.endswith("_pct")
        and key.removeprefix("cpu_").removesuffix("_pct") not in harness.NOT_STACK
    ]
    run["cpu_stack_pct"] = round(sum(stack), 1)
    return run


def main() -> None:
    cli = harness.parser(NAME, __doc__.splitlines()[0] if __doc__ else NAME)
    cli.add_argument("--seconds", type=float, default=30.0, help="length of a run (default 30)")
    cli.add_argument("--settle", type=float, default=10.0, help="quiet seconds before measuring")
    options = cli.parse_args()
    with harness.open_bench(NAME) as bench, harness.load_process() as loader:
        warm_up(bench)
        time.sleep(options.settle)
        runs = [
            with_stack_total(run)
            for run in harness.measured_runs(
                bench,
                loader,
                options,
                lambda: idle_run(bench, options.seconds),
                lambda run: f"idle for {run['seconds']:.0f} s",
            )
        ]
        if options.py_spy:
            with harness.profiled(
                options.py_spy, bench, options.seconds, NAME, options.json.parent
            ):
                time.sleep(options.seconds)
    harness.show(f"Idle stack, {options.seconds:.0f} s runs", runs, COLUMNS)
    harness.write_json(options.json, options, {"idle": runs})
    print(json.dumps({k: v for k, v in harness.medians(runs).items() if k.startswith("cpu_")}))


if __name__ == "__main__":
    main()
