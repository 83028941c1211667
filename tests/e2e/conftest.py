"""The e2e tier: the stack of `board up` as real processes, spoken to over real HTTP.

One stack serves the whole tier (starting it costs seconds); tests keep apart by
creating their own events and users.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from rich.console import Console

from board.environment import replace_settings
from board.setup import set_up
from board.up import Stack
from tests.conftest import fresh_database, settings_for


@contextmanager
def running_stack(
    postgres_server_url: str, kafka_bootstrap: str, **overrides: Any
) -> Iterator[Stack]:
    """A stack of `board up` on a database and topics of its own, stopped afterwards."""
    with fresh_database(postgres_server_url) as url:
        settings = settings_for(url, kafka_bootstrap)
        set_up(settings)
        with Stack(
            replace_settings(settings, port=0, **overrides), console=Console(stderr=True)
        ) as running:
            yield running


@pytest.fixture(scope="package")
def stack(postgres_server_url: str, kafka_bootstrap: str) -> Iterator[Stack]:
    # These tests prove the path, not its speed: a loaded machine may take its time.
    # The status sweep runs every second and finishes an event once it has started, so
    # a test can make a flood of status changes without waiting hours.
    with running_stack(
        postgres_server_url,
        kafka_bootstrap,
        consistency_wait_seconds=30.0,
        status_sweep_seconds=1.0,
        finish_after_seconds=0.0,
    ) as running:
        yield running


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=10.0, trust_env=False) as client:
        yield client
