"""Running the read-model projector as a process: `python -m projections.read_models.main`."""

from __future__ import annotations

import logging

from projections.read_models.app import create_app
from projections.read_models.status_sweep import schedule_status_sweep
from projections.runtime.worker import run_faust_app, write_side
from shared.clock import SystemClock
from shared.read_model.migrate import upgrade
from shared.settings import Settings

logger = logging.getLogger(__name__)


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


if __name__ == "__main__":
    run_worker(Settings())
