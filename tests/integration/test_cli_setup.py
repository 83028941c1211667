"""`board setup` against a real PostgreSQL and broker: schemas, tables and topics appear."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from kafka.admin import KafkaAdminClient

from board.environment import settings_environment
from board.setup import set_up
from shared.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.fresh_database]

EXPECTED_TABLES = {
    ("event_store", "outbox"),
    ("event_store", "relay_partitions"),
    ("event_store", "relay_head"),
    ("event_store", "resend_requests"),
    ("read_model", "events"),
    ("read_model", "projection_partitions"),
    ("read_model", "watermarks"),
    ("read_model", "parked_messages"),
}


def tables(database_url: str) -> set[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN ('event_store', 'read_model')"
        ).fetchall()
    return {(schema, name) for schema, name in rows}


def topics(settings: Settings) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def test_setup_creates_the_outbox_the_read_tables_and_the_topics(settings: Settings) -> None:
    set_up(settings)

    assert tables(settings.database_url) >= EXPECTED_TABLES
    assert set(settings.topics) <= topics(settings)


def test_setup_run_again_keeps_what_is_there(settings: Settings) -> None:
    set_up(settings)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO read_model.watermarks (projection, position) VALUES ('events', 7)"
        )

    set_up(settings)

    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT position FROM read_model.watermarks").fetchone()
    assert row == (7,)


def test_board_setup_prepares_the_stores_as_a_command(settings: Settings) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "board.cli", "setup"],
        env={**os.environ, **settings_environment(settings)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert tables(settings.database_url) >= EXPECTED_TABLES
    assert set(settings.topics) <= topics(settings)
    assert "schemas, tables and topics are in place" in completed.stderr
