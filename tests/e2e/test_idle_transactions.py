"""No process of the stack keeps a transaction open while it waits for work.

A transaction left open between a loop's turns holds its tables' locks against any
migration (ACCESS EXCLUSIVE waits behind it) for as long as the loop finds nothing to do.
"""

from __future__ import annotations

import time
from uuid import uuid4

import httpx
import psycopg
import pytest

from board.up import Stack
from tests.e2e.test_event_pipeline import new_event
from tests.tokens import known_bearer

pytestmark = pytest.mark.e2e

# Longer than any turn of a loop takes here (the notifier's reminder scan and the status
# sweep turn every second), shorter than the watch: a transaction seen idle for longer was
# left open, not caught between two statements.
HELD_SECONDS = 2.0
WATCH_SECONDS = 4.0

LEFT_OPEN = """
SELECT pid, left(query, 100)
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND state LIKE 'idle in transaction%%' AND xact_start < now() - make_interval(secs => %s)
"""


def test_an_idle_stack_keeps_no_transaction_open(stack: Stack, api: httpx.Client) -> None:
    # A write read back through the notifier: every loop of the pipeline has started and
    # taken a turn with work in it.
    user = known_bearer(stack.settings, uuid4(), "zoya")
    created = api.post("/api/events/", json=new_event(), headers=user)
    read = api.get(
        "/api/notifications/",
        headers={**user, "X-Min-Position": created.headers["X-Event-Position"]},
    )
    assert read.status_code == 200, read.text

    left_open: set[tuple[int, str]] = set()
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        deadline = time.monotonic() + WATCH_SECONDS
        while time.monotonic() < deadline:
            left_open.update(conn.execute(LEFT_OPEN, (HELD_SECONDS,)).fetchall())
            time.sleep(0.2)

    assert left_open == set()
