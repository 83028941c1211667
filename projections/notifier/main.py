"""Running the notifier as a process: `python -m projections.notifier.main`."""

from __future__ import annotations

import logging

from projections.notifier.app import create_notifier_app
from projections.runtime.worker import run_faust_app, write_side
from shared.clock import SystemClock
from shared.read_model.migrate import upgrade
from shared.settings import Section, Settings

logger = logging.getLogger(__name__)


def run_notifier(settings: Settings) -> None:
    """Run the notifier until SIGTERM or SIGINT; returns after a clean shutdown."""
    settings.check_for(Section.DELIVERY)
    upgrade(settings.database_url)
    clock = SystemClock()
    with write_side(settings, clock) as board:
        run_faust_app(create_notifier_app(settings, board, clock))
    logger.info("notifier stopped")


if __name__ == "__main__":
    run_notifier(Settings())
