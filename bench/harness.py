"""Plumbing shared by the benchmarks: the stack, the load process, CPU accounting, figures.

A benchmark starts PostgreSQL and the broker (embedded ones unless `DATABASE_URL` /
`KAFKA_BOOTSTRAP_SERVERS` name servers), a fresh database and topic prefix, and the
stack of `board up` (relay, projector, gateway as child processes). Its load runs in a
separate process. Each run is measured on its own; the summary is the median of runs.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from board.embedded import EmbeddedBroker, start_embedded_postgres
from board.setup import set_up
from board.up import Stack
from shared.settings import Settings

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
WORK_DIR = Path(tempfile.gettempdir()) / "event-board-bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A run during which processes outside the benchmark used more than this much of one core
# is measured again, and marked disturbed if it never was quiet enough.
DISTURBED_ABOVE_PCT = 10.0
# Groups of the CPU table that are not the stack: the load generator and everything else.
NOT_STACK = frozenset({"load", "kernel", "others", "machine"})

P = ParamSpec("P")
T = TypeVar("T")

# A wide table even when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)


# A counter of the write side on the gateway's `/metrics` (`board_commands_total 12.0`).
_COUNTER = re.compile(r"^(board_\w+?)(?:_total)? ([0-9.e+]+)$", re.MULTILINE)


# --- command line ---------------------------------------------------------------------------


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options every benchmark has."""
    cli = argparse.ArgumentParser(prog=f"bench/{name}.py", description=description)
    cli.add_argument("--runs", type=int, default=3, help="measured runs; medians are quoted")
    cli.add_argument(
        "--json",
        type=Path,
        default=RESULTS_DIR / f"{name}.json",
        help=f"where to write the results (default bench/results/{name}.json)",
    )
    cli.add_argument(
        "--quiet-below",
        type=float,
        default=DISTURBED_ABOVE_PCT,
        metavar="PCT",
        help="before each run, wait until other processes use less CPU than this"
        f" (default {DISTURBED_ABOVE_PCT:g})",
    )
    cli.add_argument(
        "--quiet-wait", type=float, default=120.0, help="longest wait for quiet, s (default 120)"
    )
    cli.add_argument(
        "--max-others",
        type=float,
        default=DISTURBED_ABOVE_PCT,
        metavar="PCT",
        help="measure a run again, and mark it disturbed if it stays so, when other processes"
        f" used more CPU than this, %% of one core (default {DISTURBED_ABOVE_PCT:g})",
    )
    cli.add_argument(
        "--pg-sessions",
        action="store_true",
        help="sample what PostgreSQL's sessions do during each run (costs CPU of its own)",
    )
    cli.add_argument(
        "--retries", type=int, default=3, help="most repeats of one disturbed run (default 3)"
    )
    cli.add_argument(
        "--py-spy",
        metavar="PATH",
        help="py-spy executable: after the measured runs, record each stack process during "
        "one more run (raw collapsed stacks next to the JSON file)",
    )
    return cli


# --- figures --------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values (at least one)."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float], prefix: str = "") -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds; nothing for no values."""
    ordered = sorted(seconds)
    if not ordered:
        return {}
    figures = {"p50": 0.5, "p95": 0.95, "p99": 0.99, "max": 1.0}
    return {f"{prefix}{k}_ms": round(percentile(ordered, q) * 1000, 2) for k, q in figures.items()}


def medians(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The median of each number over the runs (numbers missing from a run are skipped)."""
    numbers = [_numbers(run) for run in runs]
    keys = [k for k in numbers[0] if all(k in run for run in numbers)] if numbers else []
    return {k: round(statistics.median(run[k] for run in numbers), 2) for k in keys}


def show(title: str, runs: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> None:
    """Print one row per run and the medians of `columns` (key: header), then a CPU table."""
    _print_table(title, runs, columns)
    per_op = {
        k: k.removeprefix("cpu_ms_per_op_") for k in runs[0] if k.startswith("cpu_ms_per_op_")
    }
    if per_op:
        _print_table("CPU ms per operation, by process (stack: all but the load)", runs, per_op)
    cpu = {
        k: k.removeprefix("cpu_").removesuffix("_pct")
        for k in runs[0]
        if k.startswith("cpu_") and k.endswith("_pct")
    }
    if cpu:
        _print_table("CPU, % of one core (the machine has 200 %)", runs, cpu)
    sessions = {
        k: k.removeprefix("pg_")
        for k, v in runs[0].items()
        if k.startswith("pg_") and _is_number(v)
    }
    if sessions:
        _print_table("PostgreSQL sessions of the benchmark's database, average", runs, sessions)


def _print_table(title: str, runs: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("run")
    for header in columns.values():
        table.add_column(header, justify="right")
    for number, run in enumerate(runs, 1):
        table.add_row(str(number), *(_cell(run.get(c)) for c in columns))
    summary = medians(runs)
    table.add_row("median", *(_cell(summary.get(c)) for c in columns), style="bold")
    console.print(table)


def _cell(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def commit_counters(client: httpx.Client) -> dict[str, float]:
    """The write side's counters (`board_*`) from the gateway's `/metrics`."""
    page = client.get("/metrics").text
    return {name: float(value) for name, value in _COUNTER.findall(page)}


def commit_figures(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """Commands per commit group and the conflict retries between two `commit_counters`."""
    delta = {name: value - before.get(name, 0.0) for name, value in after.items()}
    commands = max(delta.get("board_commands", 0.0), 1.0)
    return {
        "commands_per_group": round(commands / max(delta.get("board_commit_groups", 0), 1), 1),
        "conflict_retries": delta.get("board_conflict_retries", 0.0),
        "retried_pct": round(100 * delta.get("board_retried_commands", 0.0) / commands, 2),
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kib = int(info.readline().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(
    path: Path, options: argparse.Namespace, sections: Mapping[str, Sequence[Mapping[str, Any]]]
) -> None:
    """Each section's runs and medians, with the command, options and machine, as JSON."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    document = {
        "command": " ".join(["uv run python", *sys.argv]),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": machine(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "results": {
            name: {"median": medians(runs), "runs": list(runs)}
            for name, runs in sections.items()
            if runs
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    console.print(f"results written to {path}")


def _numbers(run: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, v in run.items() if _is_number(v)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- CPU accounting -------------------------------------------------------------------------


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _with_descendants(pid: int, children: Mapping[int, list[int]]) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def _cpu_seconds(pid: int) -> float:
    """The CPU a process used, and its children that exited and were waited for: a
    PostgreSQL backend that ends during a run still counts, in its postmaster."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime and cstime are fields 14 to 17 of the whole line, 12 to 15 after
    # the name.
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def _machine_seconds() -> tuple[float, float, float]:
    """CPU seconds busy, spent on interrupts (the kernel's own network work), and in total,
    over all cores since boot."""
    with open("/proc/stat") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    interrupts = ticks[5] + ticks[6]
    return (sum(ticks) - idle) / CLOCK_TICKS, interrupts / CLOCK_TICKS, sum(ticks) / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    at: float
    per_group: dict[str, float]
    machine_busy: float
    machine_interrupts: float
    machine_total: float


@dataclass
class CpuMeter:
    """CPU used per process group (relay, projector, gateway, postgres, broker) over a span.

    A group is a process and its descendants; those that exit during the span count through
    the parent that waited for them (PostgreSQL backends are children of the postmaster).
    `kernel` is interrupt time (loopback networking, the disk), which no process is charged
    with; `others` is whatever else kept the machine busy: other people's work.
    """

    roots: Mapping[str, int]
    # Processes counted without their descendants: the benchmark's own.
    singles: Mapping[str, int] = field(default_factory=dict)
    _start: CpuSnapshot | None = field(default=None, init=False)

    def _snapshot(self) -> CpuSnapshot:
        children = _children_by_parent()
        groups = {name: _with_descendants(pid, children) for name, pid in self.roots.items()}
        groups.update({name: [pid] for name, pid in self.singles.items()})
        busy, interrupts, total = _machine_seconds()
        return CpuSnapshot(
            time.monotonic(),
            {name: sum(map(_cpu_seconds, pids)) for name, pids in groups.items()},
            busy,
            interrupts,
            total,
        )

    def start(self) -> None:
        self._start = self._snapshot()

    def stop(self) -> dict[str, float]:
        """Per group: percent of one core used since `start` (200% is the whole machine)."""
        assert self._start is not None, "start() first"
        end = self._snapshot()
        elapsed = end.at - self._start.at
        usage: dict[str, float] = {}
        for name, seconds in end.per_group.items():
            used = max(0.0, seconds - self._start.per_group.get(name, 0.0))
            usage[f"cpu_{name}_pct"] = round(100 * used / elapsed, 1)
        cores = os.cpu_count() or 1
        total = end.machine_total - self._start.machine_total

        def machine_share(seconds: float) -> float:
            return 100 * cores * seconds / total if total else 0.0

        machine_pct = machine_share(end.machine_busy - self._start.machine_busy)
        kernel_pct = machine_share(end.machine_interrupts - self._start.machine_interrupts)
        usage["cpu_kernel_pct"] = round(kernel_pct, 1)
        usage["cpu_others_pct"] = round(max(0.0, machine_pct - sum(usage.values())), 1)
        usage["cpu_machine_pct"] = round(machine_pct, 1)
        usage["cpu_window_s"] = round(elapsed, 3)
        return usage


def cpu_per_operation(usage: Mapping[str, Any], operations: float) -> dict[str, float]:
    """CPU milliseconds per operation of each process group and of the whole stack."""
    if operations <= 0:
        return {}
    window = usage["cpu_window_s"]
    per_op = {
        name: usage[f"cpu_{name}_pct"] / 100 * window * 1000 / operations
        for name in (k.removeprefix("cpu_").removesuffix("_pct") for k in usage)
        if f"cpu_{name}_pct" in usage and name not in NOT_STACK
    }
    figures = {f"cpu_ms_per_op_{name}": round(ms, 3) for name, ms in per_op.items()}
    figures["cpu_ms_per_op_stack"] = round(sum(per_op.values()), 3)
    return figures


class PgSessions:
    """Samples what the sessions of the benchmark's database are doing, from a thread.

    The figures are the average number of sessions in each state over the span: `lock`
    waits for a lock, `idle_in_tx` holds a transaction open while its client has not sent
    the next statement, `busy` runs or waits on anything else (I/O, WAL, the network).
    `detail` lists the most frequent (state, statement) pairs behind them.
    """

    STATES = ("lock", "idle_in_tx", "busy")
    _QUERY = (
        "SELECT CASE WHEN wait_event_type = 'Lock' THEN 'lock'"
        " WHEN state LIKE 'idle in transaction%' THEN 'idle_in_tx' ELSE 'busy' END,"
        " left(regexp_replace(query, '\\s+', ' ', 'g'), 60)"
        " FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " AND state <> 'idle'"
    )

    def __init__(self, database_url: str, interval: float = 0.02) -> None:
        self._database_url = database_url
        self._interval = interval
        self._seen: Counter[tuple[str, str]] = Counter()
        self._samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sample, name="pg-sessions", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        samples = max(self._samples, 1)
        totals: Counter[str] = Counter()
        for (state, _), count in self._seen.items():
            totals[state] += count
        return {
            **{f"pg_{s}": round(totals[s] / samples, 2) for s in self.STATES},
            "pg_detail": [
                {"state": state, "statement": statement, "average": round(count / samples, 2)}
                for (state, statement), count in self._seen.most_common(8)
            ],
        }

    def _sample(self) -> None:
        with psycopg.connect(self._database_url, autocommit=True) as conn:
            while not self._stop.wait(self._interval):
                self._seen.update(conn.execute(self._QUERY).fetchall())
                self._samples += 1


@dataclass
class Probe:
    """CPU per process, and what PostgreSQL's sessions do if asked, over one measured run."""

    cpu: CpuMeter
    sessions: PgSessions | None

    def start(self) -> None:
        if self.sessions is not None:
            self.sessions.start()
        self.cpu.start()

    def stop(self) -> dict[str, Any]:
        usage = self.cpu.stop()
        return {**usage, **(self.sessions.stop() if self.sessions is not None else {})}


# --- the stack ------------------------------------------------------------------------------


@dataclass
class Bench:
    """The servers, settings and (optionally) the running stack of one benchmark."""

    settings: Settings
    stack: Stack | None
    log_path: Path
    process_roots: dict[str, int]

    @property
    def base_url(self) -> str:
        assert self.stack is not None, "started without the stack"
        return self.stack.base_url

    def token(self) -> str:
        """The bearer token of a newly registered user."""
        [token] = self.tokens(1)
        return token

    def tokens(self, count: int) -> list[str]:
        """The bearer tokens of `count` newly registered users, one each."""
        tokens = []
        with httpx.Client(base_url=self.base_url, timeout=30, trust_env=False) as client:
            for _ in range(count):
                account = {"username": f"bench{uuid4().hex[:8]}", "password": f"pw-{uuid4().hex}"}
                client.post("/api/users/register/", json=account).raise_for_status()
                login = client.post("/api/users/login/", json=account)
                login.raise_for_status()
                tokens.append(str(login.json()["access"]))
        return tokens

    def probe(self, sessions: bool = False, **extra_roots: int) -> Probe:
        """CPU of the stack's processes (and `extra_roots`, e.g. load=pid), and the sessions
        of PostgreSQL if `sessions`."""
        sampler = PgSessions(self.settings.database_url) if sessions else None
        return Probe(self.cpu_meter(**extra_roots), sampler)

    def settle(self, timeout: float = 120.0) -> float:
        """Wait until the pipeline has worked off what was written: the outbox published,
        every watermark at its head, every notification delivered; return the seconds."""
        started = time.monotonic()
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            while time.monotonic() - started < timeout:
                row = conn.execute(_SETTLED).fetchone()
                if row is not None and row[0]:
                    break
                time.sleep(0.02)
        return time.monotonic() - started

    def cpu_meter(self, **extra_roots: int) -> CpuMeter:
        return CpuMeter({**self.process_roots, **extra_roots}, {"harness": os.getpid()})

    def wait_for_quiet(self, below_pct: float, max_wait: float) -> None:
        """Wait (at most `max_wait` s) until other work on the machine uses < `below_pct` %.

        The machine may be shared: someone else's tests compete for the same two cores.
        """
        deadline = time.monotonic() + max_wait
        while True:
            meter = self.cpu_meter()
            meter.start()
            time.sleep(2.0)
            others = meter.stop()["cpu_others_pct"]
            if others < below_pct:
                return
            if time.monotonic() > deadline:
                console.print(f"[yellow]other work still uses {others:.0f} % CPU; measuring[/]")
                return
            console.print(f"[dim]other work uses {others:.0f} % CPU; waiting for quiet[/]")

    def check_alive(self) -> None:
        if self.stack is not None and self.stack.failed:
            raise RuntimeError(f"a stack process kept dying; see {self.log_path}")


# Everything committed is published and reflected by every projection, and delivered.
_SETTLED = """
SELECT NOT EXISTS (SELECT 1 FROM event_store.outbox WHERE published_at IS NULL)
   AND (SELECT count(*) FROM read_model.watermarks
         WHERE position >= (SELECT coalesce(max(position), 0) FROM event_store.outbox)) = 4
   AND NOT EXISTS (SELECT 1 FROM read_model.notification_deliveries)
"""


def _with_database(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


@contextmanager
def _bench_database(server_url: str, kept: str | None) -> Iterator[str]:
    """A fresh database dropped afterwards, or the database named `kept`, made if missing
    and left in place (a large board is filled once and measured many times)."""
    name = kept or f"bench_{uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(server_url, name)
    finally:
        if kept is None:
            with psycopg.connect(server_url, autocommit=True) as conn:
                drop = sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
                conn.execute(drop)


def _postmaster_pid() -> int | None:
    pid_file = WORK_DIR / "postgres" / "postmaster.pid"
    if os.environ.get("DATABASE_URL") or not pid_file.exists():
        return None
    return int(pid_file.read_text().split()[0])


def _broker_pid() -> int | None:
    children = _children_by_parent()
    for pid in _with_descendants(os.getpid(), children):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue
        if b"--listener-url" in argv:
            return pid
    return None


@contextmanager
def open_bench(
    name: str,
    *,
    stack: bool = True,
    only: Collection[str] | None = None,
    keep_database: str | None = None,
    prepare: Callable[[Settings], None] | None = None,
    **settings: Any,
) -> Iterator[Bench]:
    """Servers, a fresh database (or the kept one) and topic prefix, the stores set up
    (migrated, for a kept database), `prepare` run on them, and the stack running (its
    children named in `only`, if given)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    log_path = WORK_DIR / f"{name}.log"
    with ExitStack() as opened:
        server_url = os.environ.get("DATABASE_URL") or start_embedded_postgres(WORK_DIR)
        database_url = opened.enter_context(_bench_database(server_url, keep_database))
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = EmbeddedBroker().start()
            opened.callback(broker.stop)
            bootstrap = broker.bootstrap_servers
        resolved = Settings(
            env="test",
            secret_key=f"bench-secret-{uuid4().hex}",
            database_url=database_url,
            kafka_bootstrap_servers=bootstrap,
            topic_prefix=f"bench{uuid4().hex[:8]}",
            data_dir=str(WORK_DIR / "data"),
            port=0,
            # As `board up` runs: the notifier's log channel writes a line per notification.
            log_level="INFO",
            access_token_seconds=3600,
            **settings,
        )
        set_up(resolved)
        if prepare is not None:
            prepare(resolved)
        roots: dict[str, int] = {}
        if (postmaster := _postmaster_pid()) is not None:
            roots["postgres"] = postmaster
        if (broker_pid := _broker_pid()) is not None:
            roots["broker"] = broker_pid
        running: Stack | None = None
        if stack:
            log = opened.enter_context(log_path.open("w"))
            logs = Console(file=log, width=200, force_terminal=False)
            running = opened.enter_context(Stack(resolved, only=only, console=logs))
            for child in running.children:
                if child.process is not None:
                    roots[child.spec.name] = child.process.pid
            resolved = running.settings
        console.print(f"[dim]{name}: stack logs in {log_path}[/]")
        yield Bench(resolved, running, log_path, roots)


# --- the load process -----------------------------------------------------------------------


class LoadProcess:
    """One separate (spawned) process that runs the load: `call(fn, *args)` returns fn's result.

    `fn` must be a module-level function of the benchmark script, and the script must guard
    its entry point with `if __name__ == "__main__"`.
    """

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self._pool = pool
        self.pid = self.call(os.getpid)  # started before anything is measured

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return self._pool.submit(fn, *args, **kwargs).result()


@contextmanager
def load_process() -> Iterator[LoadProcess]:
    with ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        yield LoadProcess(pool)


def measured_runs(
    bench: Bench,
    loader: LoadProcess,
    options: argparse.Namespace,
    run_once: Callable[[], dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    prepare: Callable[[], object] | None = None,
    operations: str | None = None,
    settle: bool = True,
) -> list[dict[str, Any]]:
    """`options.runs` runs of `run_once`, each after `prepare` (not measured), a quiet moment
    and with its probe. With `operations` (the key of the run's count of operations), the
    run gets the CPU milliseconds per operation of each process and of the whole stack; a
    run that writes (`settle`) is measured on until the pipeline has worked it off
    (`Bench.settle`), so what the projections and the notifier spend on it counts too.

    A run during which other processes used more than `options.max_others` % of one core is
    measured again (`options.retries` times at most); the kept run records how many
    attempts it took, and is marked `disturbed` if it was never quiet enough."""
    runs = []
    for number in range(1, options.runs + 1):
        for attempt in range(1, options.retries + 2):
            if prepare is not None:
                prepare()
                if settle:
                    # What preparing wrote is worked off before the run is measured.
                    bench.settle()
            bench.wait_for_quiet(options.quiet_below, options.quiet_wait)
            probe = bench.probe(sessions=options.pg_sessions, load=loader.pid)
            probe.start()
            run = run_once()
            if operations is not None and settle:
                run["settle_s"] = round(bench.settle(), 2)
            run.update(probe.stop())
            if operations is not None:
                run.update(cpu_per_operation(run, run[operations]))
            bench.check_alive()
            others = run["cpu_others_pct"]
            run["disturbed"] = others > options.max_others
            per_op = (
                f", {run['cpu_ms_per_op_stack']:.2f} CPU ms/op"
                if "cpu_ms_per_op_stack" in run
                else ""
            )
            line = f"run {number}: {describe(run)}{per_op} (others {others:.0f} % CPU)"
            if not run["disturbed"] or attempt > options.retries:
                break
            console.print(f"[yellow]{line}: disturbed, measuring again[/]")
        run["attempts"] = attempt
        runs.append(run)
        console.print(f"[red]{line}: DISTURBED[/]" if run["disturbed"] else line)
    return runs


# --- profiling ------------------------------------------------------------------------------


@contextmanager
def profiled(
    py_spy: str | None, bench: Bench, seconds: float, label: str, out_dir: Path
) -> Iterator[None]:
    """Record the stack's Python processes with py-spy for `seconds` (when asked to)."""
    if not py_spy or bench.stack is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    recorders = [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(child.process.pid),
                "--duration",
                str(max(1, round(seconds))),
                "--rate",
                "200",
                "--format",
                "raw",
                # Only threads holding the GIL: where the CPU goes, not where threads wait.
                "--gil",
                "--nonblocking",
                "--output",
                str(out_dir / f"{label}-{child.spec.name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for child in bench.stack.children
        if child.process is not None
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.wait()
        console.print(f"[dim]py-spy profiles in {out_dir}[/]")
