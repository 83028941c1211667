"""Settings handed to child processes through their environment come back unchanged."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from board.environment import replace_settings, settings_environment
from shared.settings import Settings


def test_a_child_reads_back_the_settings_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(
        env="test",
        secret_key="a-test-secret-of-more-than-32-characters",
        database_url="postgresql://postgres:@/db?host=/tmp/socket",
        kafka_bootstrap_servers="127.0.0.1:19092",
        topic_prefix="tabc",
        port=9123,
        kafka_partitions=2,
        consistency_wait_seconds=1.5,
        log_level="DEBUG",
    )
    for variable in os.environ:
        if variable.startswith("BOARD_"):
            monkeypatch.delenv(variable)

    for variable, value in settings_environment(given).items():
        monkeypatch.setenv(variable, value)

    assert Settings().model_dump() == given.model_dump()


def test_the_connection_settings_keep_their_conventional_names() -> None:
    environment = settings_environment(
        Settings(database_url="postgresql://x/y", kafka_bootstrap_servers="k:9092")
    )

    assert environment["DATABASE_URL"] == "postgresql://x/y"
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "k:9092"


def test_replaced_settings_are_validated_and_derived_values_follow() -> None:
    original = Settings(database_url="postgresql://postgres:@/one")
    assert original.sqlalchemy_url.endswith("/one")

    changed = replace_settings(original, database_url="postgresql://postgres:@/two")

    assert changed.sqlalchemy_url.endswith("/two")
    with pytest.raises(ValidationError, match="port"):
        replace_settings(original, port=70_000)
