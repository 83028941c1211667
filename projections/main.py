"""Running the read-model projector as a process: `python -m projections.main`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import faust

from projections.app import create_app
from projections.status_sweep import schedule_status_sweep
from shared.application import Board
from shared.clock import Clock, SystemClock
from shared.infra.database import event_store_env
from shared.infra.heap import freeze_startup_heap
from shared.read_model.migrate import upgrade
from shared.settings import Settings

logger = logging.getLogger(__name__)

# A worker's own commands and reads of the write side are few: a few connections suffice,
# and it never checks a password, so the decoy hash it makes at start may be the cheapest.
WORKER_WRITE_SIDE = {
    "db_pool_size": 2,
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 1024,
}


def run_worker(settings: Settings) -> None:
    """Run the projector, and the status sweep, until SIGTERM or SIGINT; returns after a
    clean shutdown."""
    upgrade(settings.database_url)
    clock = SystemClock()
    with write_side(settings, clock) as board:
        app = create_app(settings)
        schedule_status_sweep(app, settings, board, clock)
        run_faust_app(app)
    logger.info("projector stopped")


@contextmanager
def write_side(settings: Settings, clock: Clock) -> Iterator[Board]:
    """The application, for the commands and reads a worker issues itself."""
    small = settings.model_copy(update=WORKER_WRITE_SIDE)
    board = Board(small, clock, env=event_store_env(small))
    try:
        yield board
    finally:
        board.close()


def run_faust_app(app: faust.App) -> None:
    """Run a faust app as this process's worker until SIGTERM or SIGINT."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The board's own logging is already set up: faust keeps it instead of installing its own.
    worker = faust.Worker(app, loop=loop, override_logging=False)
    freeze_startup_heap()
    try:
        # faust's worker installs the signal handlers, stops the app and closes the loop.
        worker.execute_from_commandline()
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise


if __name__ == "__main__":
    run_worker(Settings())
