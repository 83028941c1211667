"""The stack of `board up` as real child processes against the test servers."""

from __future__ import annotations

import io

import httpx
import pytest
from rich.console import Console

from board.environment import replace_settings
from board.setup import set_up
from board.up import Stack
from shared.settings import Settings

pytestmark = pytest.mark.integration


def test_the_stack_answers_on_one_base_url_and_leaves_no_process_behind(
    settings: Settings,
) -> None:
    set_up(settings)
    output = io.StringIO()
    stack = Stack(replace_settings(settings, port=0), console=Console(file=output, width=200))

    with stack:
        health = httpx.get(f"{stack.base_url}/healthz", trust_env=False)
        processes = [child.process for child in stack.children]

    assert health.status_code == 200
    assert [child.spec.name for child in stack.children] == [
        "relay",
        "projector",
        "notifier",
        "gateway",
    ]
    assert all(p is not None and p.returncode is not None for p in processes)
    assert "gateway   | " in output.getvalue()
