"""`board demo`: the bulk generator with a progress bar."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from board.demo_data import DemoSize, Filled, fill_board
from board.setup import set_up
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.settings import Settings

logger = logging.getLogger(__name__)


def fill_with_progress(settings: Settings, *, events: int, bookings: int, ratings: int) -> Filled:
    set_up(settings)
    board = Board(settings, env=event_store_env(settings))
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, TimeElapsedColumn()) as progress:
            task = progress.add_task("events", total=events)
            filled = fill_board(
                board,
                DemoSize(events, bookings, ratings),
                now=datetime.now(UTC),
                on_saved=lambda done: progress.update(task, completed=done.events),
            )
    finally:
        board.close()
    logger.info(
        "stored %d events, %d bookings, %d ratings (%d domain events); the relay and the"
        " projections take them from the outbox",
        filled.events,
        filled.bookings,
        filled.ratings,
        filled.domain_events,
    )
    return filled
