"""Waiting for something another process or thread will do, within a bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    probe: Callable[[], T | None], what: str, *, timeout: float = 30.0, interval: float = 0.02
) -> T:
    """The first truthy answer of `probe`, asked every `interval` seconds; fails the test
    naming `what` once `timeout` seconds have passed without one."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(interval)
    return found
