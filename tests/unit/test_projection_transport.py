"""The workers' faust transport: the consumer's fetch wait from the settings, paused
partitions resumed no more often than the app's fetch interval, and paused again as soon
as a fetch shows them read to the end."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiokafka
from aiokafka.structs import TopicPartition

from projections.read_models.app import create_app
from projections.runtime.transport import ConsumerThread, TunedApp
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


def thread_on_this_loop(app: TunedApp) -> tuple[ConsumerThread, aiokafka.AIOKafkaConsumer]:
    """The app's consumer thread with its consumer, run on the test's loop (no broker)."""
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    thread._consumer = consumer
    thread.thread_loop = asyncio.get_running_loop()
    return thread, consumer


async def test_partitions_woken_again_within_the_fetch_interval_resume_once_it_has_passed(
    tmp_path: Path,
) -> None:
    app = create_app(settings_with_wait(7, tmp_path))
    app.fetch_interval = 0.05
    thread, consumer = thread_on_this_loop(app)
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


def woken_at_offset(
    app: TunedApp, highwater: int
) -> tuple[ConsumerThread, aiokafka.AIOKafkaConsumer, TopicPartition, Any]:
    """A consumer read to offset 5 of one partition, paused, and woken by a safety round;
    its broker last said the partition ends at `highwater`."""
    thread, consumer = thread_on_this_loop(app)
    tp = TopicPartition("events", 0)
    consumer.assign([tp])
    state = consumer._subscription.subscription.assignment.state_value(tp)
    state.seek(5)
    state.highwater = 5
    consumer.pause(tp)
    thread._resume(None)
    state.highwater = highwater
    return thread, consumer, tp, state


async def test_a_partition_woken_with_nothing_new_is_paused_again_once_a_fetch_answers(
    tmp_path: Path,
) -> None:
    app = create_app(settings_with_wait(7, tmp_path))
    _, consumer, tp, state = woken_at_offset(app, highwater=5)
    try:
        resumed = consumer.paused()
        await asyncio.sleep(0.03)
        before_an_answer = consumer.paused()
        state.timestamp = time.time() * 1000 + 1
        await asyncio.sleep(0.03)

        assert resumed == set()
        assert before_an_answer == set()
        assert consumer.paused() == {tp}
    finally:
        await consumer.stop()


async def test_a_woken_partition_with_messages_left_stays_resumed_for_faust_to_take_them(
    tmp_path: Path,
) -> None:
    app = create_app(settings_with_wait(7, tmp_path))
    thread, consumer, _, state = woken_at_offset(app, highwater=8)
    try:
        state.timestamp = time.time() * 1000 + 1
        await asyncio.sleep(0.03)

        assert consumer.paused() == set()
    finally:
        thread._settling.clear()
        await consumer.stop()
