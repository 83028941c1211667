"""Embedded PostgreSQL and broker for `board up` when no real ones are configured."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from board.embedded import EmbeddedBroker, start_embedded_postgres
from board.environment import replace_settings
from shared.settings import Settings

logger = logging.getLogger(__name__)


@contextmanager
def local_servers(settings: Settings) -> Iterator[Settings]:
    """Start the servers `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` do not name; yield settings.

    PostgreSQL keeps its data under `<data_dir>/postgres`, so events survive a restart; the
    library stops it when this process exits. The broker keeps everything in memory and
    stops on leaving the block.
    """
    changes: dict[str, Any] = {}
    if not settings.database_url:
        changes["database_url"] = start_embedded_postgres(Path(settings.data_dir))
    broker = None
    if not settings.kafka_bootstrap_servers:
        broker = EmbeddedBroker(port=settings.kafka_port or None).start()
        changes["kafka_bootstrap_servers"] = broker.bootstrap_servers
    try:
        yield replace_settings(settings, **changes)
    finally:
        if broker is not None:
            broker.stop()
            logger.info("embedded broker stopped")
