"""The projector's faust transport takes the consumer's fetch wait from the settings."""

from __future__ import annotations

from pathlib import Path

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
