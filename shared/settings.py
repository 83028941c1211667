"""Settings of every process, read from the environment (and `.env`), validated at start-up.

One `Settings` type holds every variable, grouped below by the processes that read them.
Parsing checks each value's type and range for every process; what only some processes
need (a signing secret, an SMTP server) is checked by those processes alone, through
`check_for`, so a relay starts without a secret and an API without SMTP settings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from psycopg.conninfo import conninfo_to_dict
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.integration.names import EVENTS_STREAM, USERS_STREAM

EVENT_STORE_SCHEMA = "event_store"
READ_SCHEMA = "read_model"
MIN_SECRET_LENGTH = 32
# Secrets that have been published (in this repository's history, its samples and docs):
# anyone can sign a token with them, so no server accepts them, not even on loopback.
PUBLISHED_SECRETS = frozenset(
    {
        "development-secret-change-me-0123456789abcdef",
        "change-me-to-a-secret-of-at-least-32-characters",
    }
)


class Section(StrEnum):
    """What a process needs checked beyond the types of the values."""

    TOKENS = "tokens"  # the APIs sign and verify tokens
    DELIVERY = "delivery"  # the notifier delivers notifications


class SettingsError(ValueError):
    """Settings a process cannot run with; the message names the variables, not their values."""


class Settings(BaseSettings):
    """Everything a process needs to know about its surroundings.

    `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` keep their conventional names; everything
    of our own is prefixed `BOARD_`. The environment takes precedence over `.env`.
    `.env.sample` lists every variable with its default and meaning.
    """

    model_config = SettingsConfigDict(
        env_prefix="BOARD_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        # A rejected value may be a secret: errors name the variable, never echo its value.
        hide_input_in_errors=True,
    )

    # --- Every process: where the stores are, how to log. ---
    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "BOARD_DATABASE_URL")
    )
    kafka_bootstrap_servers: str = Field(
        default="",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "BOARD_KAFKA_BOOTSTRAP_SERVERS"),
    )
    topic_prefix: str = Field(default="eventboard", pattern=r"^[A-Za-z0-9._-]+$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    db_pool_size: int = Field(default=10, ge=1)

    # --- `board up`: where it keeps its data, its embedded broker. ---
    data_dir: str = ".board-data"
    # Port of the broker `board up` embeds without KAFKA_BOOTSTRAP_SERVERS; 0 picks a free one.
    kafka_port: int = Field(default=0, ge=0, le=65535)
    kafka_partitions: int = Field(default=4, ge=1)

    # --- The APIs (gateway, command API, query API). ---
    # Empty: `board up` and `board serve` make one for their data folder (Section.TOKENS).
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    access_log: bool = False
    # Bodies over this many bytes are refused with 413 before they are read (1 MiB).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1)
    consistency_wait_seconds: float = Field(default=5.0, gt=0)
    # How long an anonymous listing page, any listing's `count` and a calendar feed's version
    # may be reused (0: never).
    listing_cache_seconds: float = Field(default=1.0, ge=0)
    access_token_seconds: int = Field(default=15 * 60, gt=0)
    refresh_token_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # Argon2id cost; tests lower it, production keeps pwdlib's recommended values.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=8)
    # Passwords hashed at once per process (0: one per core); a login or registration that
    # finds them all busy waits this long for a turn, then is answered 503 service_busy.
    password_hash_concurrency: int = Field(default=0, ge=0)
    password_hash_wait_seconds: float = Field(default=0.1, ge=0)
    # `/readyz` fails once an event has waited this long for a projection the API reads.
    readiness_max_lag_seconds: float = Field(default=30.0, gt=0)
    # A comment on every open notification stream this often, so proxies keep it open.
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)

    # --- The write side (the command API, and the workers' own commands). ---
    edit_window_seconds: float = Field(default=3600.0, ge=0)
    # Aggregates the committer keeps between commands, so a busy event is not loaded each time.
    aggregate_cache_size: int = Field(default=2000, ge=1)

    # --- The relay. ---
    relay_batch_size: int = Field(default=500, ge=1)
    # Only a safety net: every commit with outbox rows notifies the relay.
    relay_poll_seconds: float = Field(default=5.0, gt=0)
    # Published outbox rows are kept this long (and below every projection's watermark).
    outbox_retention_seconds: float = Field(default=86400.0, ge=0)

    # --- The workers (read-model projector, notifier). ---
    kafka_fetch_max_wait_ms: int = Field(default=10, ge=0)
    kafka_session_timeout_ms: int = Field(default=6000, ge=1000)
    kafka_rebalance_timeout_ms: int = Field(default=3000, ge=1000)
    projection_batch_size: int = Field(default=200, ge=1)
    # How long a projector waits for a batch to fill: a bound on the lag it adds.
    projection_batch_seconds: float = Field(default=0.01, gt=0)
    # How often a worker wakes every partition, moves its watermarks whatever it heard, and
    # asks the relay again for what the broker lost (`projections/runtime/relay_watch.py`).
    safety_round_seconds: float = Field(default=5.0, gt=0)
    # A replay folds a read model in this many worker processes (0: one per core), once it
    # has this many stored events to read (below, one process is done before the workers
    # have opened their connections).
    replay_workers: int = Field(default=0, ge=0)
    replay_parallel_from: int = Field(default=10_000, ge=0)
    # Upcoming events are finished this long after their start, by a sweep this often.
    status_sweep_seconds: float = Field(default=60.0, gt=0)
    finish_after_seconds: float = Field(default=7200.0, ge=0)

    # --- The notifier. ---
    # Reminders this long before the start, looked for every tick.
    reminder_lead_seconds: float = Field(default=3600.0, ge=0)
    scheduler_tick_seconds: float = Field(default=1.0, gt=0)
    # E-mail over SMTP when set (`smtp://user:password@host:port`, `smtps://` for TLS);
    # otherwise notifications are delivered as log lines.
    smtp_url: str = ""
    smtp_sender: str = "Event Board <noreply@eventboard.local>"
    # The first retry of a failed delivery waits this long; each next one twice as long.
    delivery_retry_seconds: float = Field(default=1.0, gt=0)
    # A claimed batch of deliveries is leased for this long, renewed while it is sent: a
    # notifier that dies mid-batch leaves its deliveries to the others after at most this.
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    # How long the notifier waits for a batch to fill: a backlog (a flood of status changes)
    # is worked off in batches this much larger, at this much added latency when idle.
    notifier_batch_seconds: float = Field(default=0.05, gt=0)

    def check_for(self, *sections: Section) -> Settings:
        """These settings, once what `sections` need holds; raises `SettingsError`."""
        problems: list[str] = []
        if Section.TOKENS in sections:
            problems += self._token_problems()
        if Section.DELIVERY in sections:
            problems += self._delivery_problems()
        if problems:
            raise SettingsError("; ".join(problems))
        return self

    def _token_problems(self) -> list[str]:
        if not self.secret_key:
            return ["BOARD_SECRET_KEY is not set"]
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            return [f"BOARD_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters"]
        if self.secret_key in PUBLISHED_SECRETS:
            return [
                "BOARD_SECRET_KEY is a published example: anyone could sign tokens with it;"
                " set a secret of your own"
            ]
        return []

    def _delivery_problems(self) -> list[str]:
        # The channel module parses the URL; here only its shape is checked, so the message
        # names the variable.
        scheme = self.smtp_url.partition("://")[0]
        if self.smtp_url and scheme not in ("smtp", "smtps"):
            return ["BOARD_SMTP_URL must look like smtp://user:password@host:port"]
        return []

    def topic(self, stream: str) -> str:
        return f"{self.topic_prefix}.{stream}"

    @property
    def topics(self) -> list[str]:
        return [self.topic(EVENTS_STREAM), self.topic(USERS_STREAM)]

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for SQLAlchemy's async psycopg dialect."""
        _scheme, _, rest = self.database_url.partition("://")
        if not rest:
            raise ValueError("DATABASE_URL is not set")
        return f"postgresql+psycopg://{rest}"

    def eventsourcing_env(self) -> dict[str, str]:
        """The `eventsourcing` library's own settings for the event store."""
        parts: dict[str, Any] = conninfo_to_dict(self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(parts.get("dbname", "postgres")),
            "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(parts.get("port", "5432")),
            "POSTGRES_USER": str(parts.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(parts.get("password", "")),
            "POSTGRES_SCHEMA": EVENT_STORE_SCHEMA,
            "POSTGRES_POOL_SIZE": str(self.db_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.db_pool_size),
            "POSTGRES_LOCK_TIMEOUT": "5",
        }
