"""Bursts of parallel logins and registrations against the API, with Argon2 at its real cost.

A guess takes a hash's time (64 MiB, t=3): long enough for a burst to race the throttle,
and costly enough that hashing must be bounded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from board.environment import replace_settings
from shared.settings import Settings
from tests.conftest import settings_for
from tests.integration.conftest import BoardApi

pytestmark = pytest.mark.integration

REAL_COST = {"password_hash_time_cost": 3, "password_hash_memory_kib": 65536}
UNBOUNDED = REAL_COST


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str, request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = request.param
    return replace_settings(settings_for(database_url, kafka_bootstrap), **overrides)


@pytest.mark.parametrize("settings", [UNBOUNDED], indirect=True)
async def test_a_burst_of_parallel_guesses_gets_no_more_than_ten_checked(
    board_api: BoardApi,
) -> None:
    assert (await board_api.register("ivan")).status_code == 201

    answers = await asyncio.gather(
        *(board_api.log_in("ivan", f"wrong-guess-{n}") for n in range(30))
    )

    codes = sorted(answer.json()["code"] for answer in answers)
    assert codes == ["invalid_credentials"] * 10 + ["too_many_attempts"] * 20
    assert (await board_api.log_in("ivan")).status_code == 429
