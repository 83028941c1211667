"""Running a faust app as this process's worker, with the write side it issues commands to."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import faust
import uvloop

from shared.application.board import Board
from shared.clock import Clock
from shared.infra.database import event_store_env
from shared.infra.heap import freeze_startup_heap
from shared.settings import Settings

# A worker's own commands and reads of the write side are few: a few connections suffice.
WORKER_POOL_SIZE = 2


@contextmanager
def write_side(settings: Settings, clock: Clock) -> Iterator[Board]:
    """The application, for the commands and reads a worker issues itself."""
    small = settings.model_copy(update={"db_pool_size": WORKER_POOL_SIZE})
    board = Board(small, clock, env=event_store_env(small))
    try:
        yield board
    finally:
        board.close()


def run_faust_app(app: faust.App) -> None:
    """Run a faust app as this process's worker until SIGTERM or SIGINT."""
    # uvloop, as the gateway's: psycopg registers a reader or writer with the loop for
    # every wait, and faust and the consumer thread wake it per fetch and per message. The
    # policy also gives the consumer thread's own loop uvloop.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
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
