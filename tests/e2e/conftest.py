"""The e2e tier: the stack of `board up` as real processes, spoken to over real HTTP.

One stack serves the whole tier (starting it costs seconds); tests keep apart by
creating their own events and users.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from rich.console import Console

from board.environment import replace_settings
from board.setup import set_up
from board.up import Stack
from shared.application.board import Board
from shared.infra.database import event_store_env
from tests.conftest import fresh_database, settings_for
from tests.e2e.browser import CHROMIUM_ARGS, OfflineGuard, find_chromium


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


# --- Browser tests: Debian's Chromium driven by Playwright, no network beyond loopback. ---


# Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
# is open, and later tests call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "no Chromium for the browser tests: install Debian's `chromium`"
            " (apt-get install chromium) or set BOARD_CHROMIUM to a Chromium binary"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class BrowserPage:
    page: Page
    guard: OfflineGuard
    base_url: str


@pytest.fixture
def browser_page(browser: Browser, stack: Stack) -> Iterator[BrowserPage]:
    """A fresh browser context (no cookies) whose requests beyond loopback are blocked."""
    context = browser.new_context(
        base_url=stack.base_url, viewport={"width": 1400, "height": 900}, locale="ru-RU"
    )
    context.set_default_timeout(15_000)
    guard = OfflineGuard()
    context.route("**/*", guard)
    try:
        yield BrowserPage(context.new_page(), guard, stack.base_url)
    finally:
        context.close()


@dataclass(frozen=True)
class StaffUser:
    id: str
    username: str
    password: str


@pytest.fixture
def staff_user(stack: Stack) -> StaffUser:
    """A staff user made as `board createsuperuser` makes one."""
    username, password = f"staff-{uuid4().hex[:8]}", "staff-s3cret-pw"
    board = Board(stack.settings, env=event_store_env(stack.settings))
    try:
        saved = board.create_superuser(username=username, email="", password=password)
    finally:
        board.close()
    return StaffUser(str(saved.aggregate.id), username, password)
