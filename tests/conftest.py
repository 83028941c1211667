"""Fixtures shared by every tier: real PostgreSQL and a real Kafka-protocol broker.

Both start once per test session (an embedded PostgreSQL in the session's own
temporary folder and an embedded Tansu broker) unless `DATABASE_URL` /
`KAFKA_BOOTSTRAP_SERVERS` point at servers to use instead. Each test gets a fresh
database and its own topic prefix, so tests never see each other's data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from board.embedded import EmbeddedBroker, start_embedded_postgres
from command_api.session_tables import prepare_database
from shared.application.board import Board
from shared.infra.database import event_store_env
from shared.read_model.migrate import upgrade
from shared.settings import Settings


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return url
    url = start_embedded_postgres(Path(tmp_path_factory.mktemp("pg")))
    with psycopg.connect(url, autocommit=True) as conn:
        # The session's own server, gone with it: fsync guards only against the machine
        # crashing, which ends the session anyway, and it cost each test's DROP DATABASE
        # ~70 ms. Processes killed by tests lose nothing either way.
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("SELECT pg_reload_conf()")
    return url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    broker = EmbeddedBroker().start()
    yield broker.bootstrap_servers
    broker.stop()


@contextmanager
def new_database(server_url: str, template: str = "template1") -> Iterator[str]:
    """A new database, a copy of `template` (an empty one by default), dropped afterwards."""
    name = f"test_{uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    yield with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database with the board's schemas, dropped afterwards."""
    with new_database(server_url) as url:
        prepare_database(url)
        yield url


@pytest.fixture(scope="session")
def prepared_template(postgres_server_url: str, kafka_bootstrap: str) -> Iterator[str]:
    """A database prepared once as most tests' are: the command API's tables, the read
    model's migrations and the event store's tables. Copying it (~0.1 s) costs less than
    preparing each test's database anew (~0.3 s; some 500 tests use one)."""
    with fresh_database(postgres_server_url) as url:
        upgrade(url)
        settings = settings_for(url, kafka_bootstrap)
        Board(settings, env=event_store_env(settings)).close()
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            # A copy is refused while anyone is connected to the template.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )
        yield name


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, postgres_server_url: str, prepared_template: str
) -> Iterator[str]:
    if request.node.get_closest_marker("fresh_database"):
        with fresh_database(postgres_server_url) as url:
            yield url
        return
    with new_database(postgres_server_url, prepared_template) as url:
        yield url


def settings_for(database_url: str, kafka_bootstrap: str) -> Settings:
    """Settings of a test: its own database and topics, a secret of its own."""
    return Settings(
        # A developer's own `.env` must not reach the tests.
        _env_file=None,
        env="test",
        secret_key=f"test-secret-{uuid4().hex}",
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t{uuid4().hex[:10]}",
        kafka_partitions=2,
        # Argon2 at its cheapest: tests log in often and check the rules, not the cost.
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        # Tests read what they just wrote (often straight into the read model, with no
        # position to ask for); the count cache has tests of its own.
        listing_cache_seconds=0,
    )


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str) -> Settings:
    return settings_for(database_url, kafka_bootstrap)


@pytest.fixture(scope="module")
def module_settings(
    postgres_server_url: str, prepared_template: str, kafka_bootstrap: str
) -> Iterator[Settings]:
    """`settings` shared by a module's tests, for fixtures too slow to start per test."""
    with new_database(postgres_server_url, prepared_template) as url:
        yield settings_for(url, kafka_bootstrap)
