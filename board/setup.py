"""Creating every schema, table and topic the processes expect, idempotently."""

from __future__ import annotations

import logging

from board.topics import ensure_topics
from command_api.session_tables import prepare_database
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.read_model.migrate import upgrade
from shared.settings import Settings

logger = logging.getLogger(__name__)


def set_up(settings: Settings) -> None:
    """Prepare the stores; safe to run again on every start."""
    prepare_database(settings.database_url)
    # Constructing the application creates the library's event tables and the outbox.
    Board(settings, env=event_store_env(settings)).close()
    upgrade(settings.database_url)
    ensure_topics(settings)
    logger.info("schemas, tables and topics are in place")
