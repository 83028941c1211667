"""The relay process: one active relay per outbox, woken by NOTIFY, publishing until stopped."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from kafka.errors import KafkaError
from psycopg import Connection
from psycopg.sql import SQL, Identifier

from outbox_relay.broker_loss import request_resend_of_lost
from outbox_relay.producer import build_producer
from outbox_relay.pruning import prune_published
from outbox_relay.publisher import OutboxPublisher
from shared.integration.names import OUTBOX_CHANNEL, RESEND_CHANNEL
from shared.settings import Settings

logger = logging.getLogger(__name__)

# The relay's session-level advisory lock ("evboard" and 1); advisory locks are per database.
RELAY_LOCK_KEY = 0x65_76_62_6F_61_72_64_01
TRY_LOCK = SQL("SELECT pg_try_advisory_lock(%s)")
LISTEN = [SQL("LISTEN {}").format(Identifier(c)) for c in (OUTBOX_CHANNEL, RESEND_CHANNEL)]
LOCK_RETRY_SECONDS = 0.5
PRUNE_INTERVAL_SECONDS = 60.0
# How often a relay waiting for notifications looks at its stop flag.
STOP_CHECK_SECONDS = 0.5
MIN_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 5.0
PRODUCER_CLOSE_SECONDS = 5.0


class Backoff:
    """Pauses that double after each consecutive failure, up to a ceiling."""

    def __init__(self) -> None:
        self._delay = MIN_BACKOFF_SECONDS

    def next_delay(self) -> float:
        delay = self._delay
        self._delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        return delay

    def reset(self) -> None:
        self._delay = MIN_BACKOFF_SECONDS


class OutboxRelay:
    """Publishes the outbox while it holds the relay lock, and stands by while another does.

    One connection holds the lock, listens and does the work: when it breaks the lock
    goes with it, and this relay can no longer mark rows that another relay now owns.
    Any database or broker failure drops the connection and the producer and starts
    over after a growing pause; rows not yet marked are simply sent again.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stopping = threading.Event()
        self._active = threading.Event()
        self._backoff = Backoff()
        self._next_prune = 0.0

    @property
    def is_active(self) -> bool:
        """Whether this relay holds the lock and publishes (rather than standing by)."""
        return self._active.is_set()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        """Publish until `stop()` is called; safe to run in a thread."""
        while not self._stopping.is_set():
            try:
                self._serve()
            except (psycopg.Error, KafkaError) as error:
                delay = self._backoff.next_delay()
                logger.warning("relay failed, starting over in %.1f s: %s", delay, error)
                self._stopping.wait(delay)
        logger.info("relay stopped")

    def _serve(self) -> None:
        with psycopg.connect(self._settings.database_url, autocommit=True) as conn:
            if not self._hold_lock(conn):
                return
            # Listen before the first read, so nothing committed in between is missed.
            for listen in LISTEN:
                conn.execute(listen)
            producer = build_producer(self._settings)
            try:
                publisher = OutboxPublisher(conn, producer, self._settings)
                self._active.set()
                logger.info("relay active")
                request_resend_of_lost(conn, self._settings)
                # Requests made while no relay was active are waiting already.
                resend = True
                while not self._stopping.is_set():
                    # What was sent before goes first: after a crash of everything, rows
                    # never sent are newer than those the broker lost, and a consumer
                    # that read them first parked them and counted them as progress.
                    if resend:
                        publisher.resend_requested()
                    published = publisher.publish_pending()
                    self._backoff.reset()
                    self._prune_if_due(conn)
                    resend = False
                    if published < self._settings.relay_batch_size:
                        resend = RESEND_CHANNEL in self._wait_for_work(conn)
            finally:
                self._active.clear()
                producer.close(timeout=PRODUCER_CLOSE_SECONDS)

    def _hold_lock(self, conn: Connection[Any]) -> bool:
        standing_by = False
        while not self._stopping.is_set():
            row = conn.execute(TRY_LOCK, (RELAY_LOCK_KEY,)).fetchone()
            if row is not None and row[0]:
                return True
            if not standing_by:
                logger.info("another relay is active; standing by")
                standing_by = True
            self._stopping.wait(LOCK_RETRY_SECONDS)
        return False

    def _wait_for_work(self, conn: Connection[Any]) -> set[str]:
        """Return on a notification (the channels notified), at the safety poll, or soon
        after `stop()`."""
        deadline = time.monotonic() + self._settings.relay_poll_seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Notifications that arrived while we were busy are returned at once.
            woken = list(conn.notifies(timeout=min(remaining, STOP_CHECK_SECONDS), stop_after=1))
            if woken:
                # Take whatever else is queued: one wake-up per burst of commits.
                woken += conn.notifies(timeout=0)
                return {notify.channel for notify in woken}
        return set()

    def _prune_if_due(self, conn: Connection[Any]) -> None:
        now = time.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL_SECONDS
            prune_published(conn, self._settings)
