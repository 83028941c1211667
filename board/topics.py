"""Creating the topics the pipeline publishes to."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared.settings import Settings

logger = logging.getLogger(__name__)


def ensure_topics(settings: Settings) -> None:
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id="board-admin"
    )
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=settings.kafka_partitions, replication_factor=1)
            for name in settings.topics
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
            logger.info("created topics %s", [t.name for t in missing])
    finally:
        admin.close()
