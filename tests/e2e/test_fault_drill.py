"""A fault drill on `board up` itself: its own embedded PostgreSQL and broker, real processes.

Under load (bookings and cancellations by many clients), every process of the stack is
SIGKILLed in turn (the supervisor restarts it), then everything at once: `board up`, its
children, the broker and PostgreSQL, and `board up` is started again on the same data
folder. The broker comes back empty (the embedded one keeps nothing), so the read side must
heal on its own. Then every accepted write is in the event store, the read models equal a
replay of it, every booking has exactly one notification, and `/readyz` is ready again
within a bound.

Short in CI; `BOARD_DRILL_SECONDS=60 uv run pytest tests/e2e/test_fault_drill.py` runs a
longer load between the kills.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest

from board.embedded import free_port
from tests.e2e.board_process import READY_WITHIN_SECONDS, Board, kill
from tests.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

LOAD_SECONDS = float(os.environ.get("BOARD_DRILL_SECONDS", "4"))
CLIENTS = 8
STAGES = ("relay", "projector", "notifier", "gateway")


@dataclass
class Load:
    """Clients booking and cancelling until stopped; what was answered with success."""

    board: Board
    tokens: list[str]
    event_ids: list[str]
    accepted: list[tuple[str, str, str]] = field(default_factory=list)  # user, event, action
    # The codes of the answers that were neither a success nor a refusal of the rules.
    failures: Counter[str] = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def running(self) -> Iterator[None]:
        threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True)
            for n in range(len(self.tokens))
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stopping.set()
            for thread in threads:
                thread.join(timeout=60)

    def _client(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[number]}"}
        booked: set[str] = set()
        with httpx.Client(base_url=self.board.url, timeout=10, trust_env=False) as client:
            step = 0
            while not self.stopping.is_set():
                event_id = self.event_ids[(number + step) % len(self.event_ids)]
                action = "cancel_booking" if event_id in booked else "book"
                step += 1
                try:
                    answer = client.post(f"/api/events/{event_id}/{action}/", headers=headers)
                except httpx.HTTPError:
                    time.sleep(0.05)  # the gateway or PostgreSQL is down: the outcome is unknown
                    continue
                if answer.status_code in (200, 201):
                    self.accepted.append((str(number), event_id, action))
                    booked ^= {event_id}
                    continue
                code = answer.json().get("code", "")
                # A write whose answer a crash cut off did happen: take its state as it is.
                if code == "already_booked":
                    booked.add(event_id)
                elif code == "not_booked":
                    booked.discard(event_id)
                else:
                    self.failures[f"{answer.status_code} {code}"] += 1
                    time.sleep(0.05)


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Board]:
    drilled = Board(tmp_path / "data", free_port(), tmp_path / "board-up.log")
    try:
        drilled.start()
        yield drilled
    finally:
        drilled.stop()
        sys.stderr.write(drilled.log.read_text(errors="replace")[-6000:])


def accounts(board: Board, count: int) -> list[str]:
    tokens = []
    with httpx.Client(base_url=board.url, timeout=30, trust_env=False) as client:
        for _ in range(count):
            account = {"username": f"fan{uuid4().hex[:8]}", "password": f"pw-{uuid4().hex}"}
            client.post("/api/users/register/", json=account).raise_for_status()
            tokens.append(client.post("/api/users/login/", json=account).json()["access"])
    return tokens


def events(board: Board, token: str, count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=board.url, timeout=30, trust_env=False) as client:
        for number in range(count):
            body = {
                "title": f"Учения {number}",
                "description": "Проверка отказов",
                "start_time": "2099-06-01T18:00:00+03:00",
                "location": "Москва",
                "seats": 1000,
            }
            created = client.post(
                "/api/events/", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
    return ids


def read_models(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(database_url) as conn:
        return {
            "events": conn.execute(
                "SELECT id, version, booked_count, status FROM read_model.events ORDER BY id"
            ).fetchall(),
            "bookings": conn.execute(
                "SELECT event_id, user_id, booking_id FROM read_model.bookings"
                " ORDER BY event_id, user_id"
            ).fetchall(),
        }


def test_the_stack_survives_each_process_killed_and_then_all_of_it_and_heals(
    board: Board,
) -> None:
    tokens = accounts(board, CLIENTS)
    event_ids = events(board, tokens[0], CLIENTS * 2)
    load = Load(board, tokens, event_ids)

    with load.running():
        for stage in STAGES:
            time.sleep(LOAD_SECONDS / len(STAGES))
            kill(board.child(stage))
        time.sleep(LOAD_SECONDS / 2)
        board.restart_postgres()
        time.sleep(LOAD_SECONDS / 2)
        board.kill_everything()

    # PostgreSQL away, a process restarting: clean 503s (or no answer), never a 500.
    assert set(load.failures) <= {"503 service_unavailable", "409 concurrent_modification"}

    restarted = time.monotonic()
    board.start()
    eventually(board.ready, "/readyz to be ready again", timeout=READY_WITHIN_SECONDS)
    ready_after = time.monotonic() - restarted
    database_url = board.database_url()

    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT type, payload::text FROM event_store.outbox"
            " WHERE type IN ('booking.created', 'booking.cancelled')"
        ).fetchall()
        head = conn.execute("SELECT max(position) FROM event_store.outbox").fetchone()
    accepted_bookings = sum(1 for *_, action in load.accepted if action == "book")
    accepted_cancellations = len(load.accepted) - accepted_bookings
    stored_bookings = sum(1 for kind, _ in stored if kind == "booking.created")
    # Nothing accepted is lost; a write whose answer the crash cut off may be stored too.
    assert stored_bookings >= accepted_bookings > 0
    assert len(stored) - stored_bookings >= accepted_cancellations

    def caught_up() -> bool:
        with psycopg.connect(database_url) as conn:
            marks = dict(conn.execute("SELECT projection, position FROM read_model.watermarks"))
        return all(marks.get(p, 0) >= (head or [0])[0] for p in ("events", "notifier"))

    eventually(caught_up, "the read side to heal", timeout=READY_WITHIN_SECONDS)
    healed_after = time.monotonic() - restarted
    with psycopg.connect(database_url) as conn:
        notices = conn.execute(
            "SELECT count(*), count(DISTINCT key) FROM read_model.notifications"
            " WHERE type = 'booking'"
        ).fetchone()
    sys.stderr.write(
        f"fault drill: {len(load.accepted)} writes accepted ({accepted_bookings} bookings),"
        f" {stored_bookings} bookings stored, {notices} booking notices (all, distinct),"
        f" other answers {dict(load.failures)}; ready {ready_after:.1f} s and caught up"
        f" {healed_after:.1f} s after the restart\n"
    )
    assert notices == (stored_bookings, stored_bookings)

    live = read_models(database_url)
    replayed = subprocess.run(
        [sys.executable, "-m", "board.cli", "projections", "replay", "--no-progress"],
        env={**os.environ, "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": "unused:1"},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr.decode(errors="replace")[-3000:]
    assert read_models(database_url) == live
