"""Running the read-model projector as a process: `python -m projections.main`."""

from __future__ import annotations

import asyncio
import logging

import faust

from projections.app import create_app
from shared.read_model.migrate import upgrade
from shared.settings import Settings

logger = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Run the projector until SIGTERM or SIGINT; returns after a clean shutdown."""
    upgrade(settings.database_url)
    app = create_app(settings)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The board's own logging is already set up: faust keeps it instead of installing its own.
    worker = faust.Worker(app, loop=loop, override_logging=False)
    try:
        # faust's worker installs the signal handlers, stops the app and closes the loop.
        worker.execute_from_commandline()
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise
    logger.info("projector stopped")


if __name__ == "__main__":
    run_worker(Settings())
