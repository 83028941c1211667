"""Embedded PostgreSQL and broker for `board up` when no real ones are configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from board.embedded import EmbeddedBroker, embedded_postgres
from board.environment import replace_settings
from shared.settings import Settings


@contextmanager
def local_servers(settings: Settings) -> Iterator[Settings]:
    """Start the servers `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` do not name; yield settings.

    PostgreSQL keeps its data under `<data_dir>/postgres`, so events survive a restart; the
    broker keeps everything in memory. Both stop on leaving the block, however it is left:
    a PostgreSQL found running (left by a killed `board up`) is taken over and stopped too.
    """
    changes: dict[str, Any] = {}
    with ExitStack() as servers:
        if not settings.database_url:
            changes["database_url"] = servers.enter_context(
                embedded_postgres(Path(settings.data_dir), adopt=True)
            )
        if not settings.kafka_bootstrap_servers:
            broker = servers.enter_context(EmbeddedBroker(port=settings.kafka_port or None))
            changes["kafka_bootstrap_servers"] = broker.bootstrap_servers
        yield replace_settings(settings, **changes)
