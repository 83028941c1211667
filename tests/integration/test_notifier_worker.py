"""The notifier as real processes: two of them, one killed and restarted while it works,
fed by the real relay through the real broker, on the system clock with short settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest

from board.environment import replace_settings, settings_environment
from board.topics import ensure_topics
from outbox_relay.relay import OutboxRelay
from shared.application.board import Board
from shared.identity import Caller
from shared.infra.database import event_store_env
from shared.read_model.migrate import upgrade
from shared.settings import Settings
from tests.builders import event_details
from tests.waiting import eventually

pytestmark = pytest.mark.integration

EVENTS, BOOKERS = 6, 40
# Reminders are due once every booking is made (the 240, made together, take 1-3 s), and
# stay due until the start: long enough for the consumer group to settle on the embedded
# broker after a member is killed.
BOOKING_SECONDS = 15.0
STARTS_IN = timedelta(seconds=300)
LEAD_SECONDS = STARTS_IN.total_seconds() - BOOKING_SECONDS
# Generous: other test runs may share the machine's cores.
WAIT_SECONDS = 90.0


@pytest.fixture
def short_settings(settings: Settings) -> Settings:
    return replace_settings(
        settings,
        reminder_lead_seconds=LEAD_SECONDS,
        scheduler_tick_seconds=0.2,
        safety_round_seconds=1.0,
        delivery_lease_seconds=3.0,
    )


@pytest.fixture
def board(short_settings: Settings) -> Iterator[Board]:
    ensure_topics(short_settings)
    upgrade(short_settings.database_url)
    board = Board(short_settings, env=event_store_env(short_settings))
    yield board
    board.close()


@pytest.fixture
def relay(short_settings: Settings, board: Board) -> Iterator[None]:
    relay = OutboxRelay(short_settings)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    yield
    relay.stop()
    thread.join(timeout=WAIT_SECONDS)


class Notifiers:
    """Notifier processes started with `settings`, each logging to a file of its own."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.env = {**os.environ, **settings_environment(settings), "BOARD_DATA_DIR": str(folder)}
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.folder / f"notifier-{len(self.processes)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "board.cli", "notifier", "run"],
                env=self.env,
                stdout=output,
                stderr=output,
            )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=WAIT_SECONDS)
            finally:
                if process.poll() is None:
                    process.kill()
        for log in sorted(self.folder.glob("notifier-*.log")):
            sys.stderr.write(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def notifiers(short_settings: Settings, tmp_path: Path) -> Iterator[Notifiers]:
    running = Notifiers(short_settings, tmp_path)
    yield running
    running.stop()


def count(settings: Settings, type_: str) -> tuple[int, int]:
    """How many notifications of this type exist, and for how many distinct keys."""
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (user_id, event_id))"
            " FROM read_model.notifications WHERE type = %s",
            (type_,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def undelivered(settings: Settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM read_model.notification_deliveries").fetchone()
    assert row is not None
    pending: int = row[0]
    return pending


def schedule(board: Board, starts_in: timedelta) -> UUID:
    event_id: UUID = board.schedule_event(
        event_details(
            datetime.now(UTC) + starts_in,
            title="Встреча",
            description="Для проверки",
            location="Пермь",
            seats=BOOKERS,
        ),
        caller=Caller(uuid4(), "organizer"),
    ).aggregate.id
    return event_id


@pytest.mark.timeout(300)
def test_every_booking_is_notified_and_reminded_once_by_rival_notifiers_one_of_them_killed(
    short_settings: Settings, board: Board, relay: None, notifiers: Notifiers
) -> None:
    scheduled_at = datetime.now(UTC)
    event_ids = [schedule(board, STARTS_IN) for _ in range(EVENTS)]
    victim = notifiers.start()
    notifiers.start()
    bookings = [(e, Caller(uuid4(), f"user-{n}")) for e in event_ids for n in range(BOOKERS)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda booking: board.book_seat(booking[0], caller=booking[1]), bookings))
    total = EVENTS * BOOKERS
    # A booking made after its reminder's moment gets none.
    assert datetime.now(UTC) < scheduled_at + timedelta(seconds=BOOKING_SECONDS)

    # Killed as soon as it has done some of the work (most likely inside a batch).
    eventually(
        lambda: count(short_settings, "booking")[0] > 0,
        "the first notifications",
        timeout=WAIT_SECONDS,
        interval=0.005,
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    notifiers.start()

    eventually(
        lambda: count(short_settings, "booking")[0] >= total,
        "every booking notice",
        timeout=WAIT_SECONDS,
    )
    eventually(
        lambda: count(short_settings, "reminder")[0] >= total,
        "every reminder",
        timeout=WAIT_SECONDS,
    )
    eventually(lambda: undelivered(short_settings) == 0, "every delivery", timeout=WAIT_SECONDS)
    time.sleep(2 * short_settings.scheduler_tick_seconds)
    assert count(short_settings, "booking") == (total, total)
    assert count(short_settings, "reminder") == (total, total)
