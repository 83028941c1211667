"""The workers' faust transport: the consumer's fetch wait from the settings, and paused
partitions resumed no more often than the app's fetch interval."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka.structs import TopicPartition

from projections.read_models.app import create_app
from shared.settings import Settings


def settings_with_wait(milliseconds: int, data_dir: Path) -> Settings:
    return Settings(
        data_dir=str(data_dir),
        database_url="postgresql://postgres:@/postgres?host=/nonexistent",
        kafka_bootstrap_servers="127.0.0.1:1",
        kafka_fetch_max_wait_ms=milliseconds,
    )


async def test_the_worker_consumer_waits_for_fetches_as_long_as_the_settings_say(
    tmp_path: Path,
) -> None:
    app = create_app(settings_with_wait(7, tmp_path))

    consumer = app.consumer._thread._create_worker_consumer(app.transport)

    try:
        assert consumer._fetch_max_wait_ms == 7
        assert consumer._session_timeout_ms == Settings().kafka_session_timeout_ms
    finally:
        await consumer.stop()


async def test_partitions_woken_again_within_the_fetch_interval_resume_once_it_has_passed(
    tmp_path: Path,
) -> None:
    app = create_app(settings_with_wait(7, tmp_path))
    app.fetch_interval = 0.05
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    thread._consumer = consumer
    thread.thread_loop = asyncio.get_running_loop()
    first, second = TopicPartition("events", 0), TopicPartition("events", 1)
    consumer.assign([first, second])
    try:
        consumer.pause(first, second)
        thread._resume({("events", 0): 10})
        after_the_first_wake = consumer.paused()
        consumer.pause(first)
        thread._resume({("events", 0): 20, ("events", 1): 20})
        within_the_interval = consumer.paused()
        await asyncio.sleep(0.1)

        assert after_the_first_wake == {second}
        assert within_the_interval == {first, second}
        assert consumer.paused() == set()
    finally:
        await consumer.stop()
