"""The e2e tier: the stack of `board up` as real processes, spoken to over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rich.console import Console

from shared.cli.environment import replace_settings
from shared.cli.up import Stack
from shared.infra.setup import set_up
from shared.settings import Settings


@pytest.fixture(scope="module")
def stack(module_settings: Settings) -> Iterator[Stack]:
    set_up(module_settings)
    with Stack(replace_settings(module_settings, port=0), console=Console(stderr=True)) as running:
        yield running


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=10.0, trust_env=False) as client:
        yield client
