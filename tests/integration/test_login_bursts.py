"""Bursts of parallel logins and registrations against the API, with Argon2 at its real cost.

A guess takes a hash's time (64 MiB, t=3): long enough for a burst to race the throttle,
and costly enough that hashing must be bounded.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest
from httpx import Response

from board.environment import replace_settings
from shared.settings import Settings
from tests.conftest import settings_for
from tests.integration.conftest import PASSWORD, BoardApi

pytestmark = pytest.mark.integration

REAL_COST = {"password_hash_time_cost": 3, "password_hash_memory_kib": 65536}
# As many turns to hash as the burst has requests: only the throttle refuses.
UNBOUNDED = {**REAL_COST, "password_hash_concurrency": 32}
# One turn per core, as production runs.
PER_CORE = {**REAL_COST, "password_hash_concurrency": 0}


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str, request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = request.param
    return replace_settings(settings_for(database_url, kafka_bootstrap), **overrides)


async def timed(request: Any) -> tuple[Response, float]:
    started = time.monotonic()
    answer = await request
    return answer, time.monotonic() - started


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


@pytest.mark.parametrize("settings", [PER_CORE], indirect=True)
async def test_concurrent_logins_beyond_the_hashing_turns_are_answered_503_quickly(
    board_api: BoardApi,
) -> None:
    names = [f"burst{n}" for n in range(12)]
    for name in names:
        assert (await board_api.register(name)).status_code == 201

    answered = await asyncio.gather(
        *(timed(board_api.log_in(name)) for name in names),
        *(timed(board_api.register(f"late{n}")) for n in range(6)),
    )

    statuses = sorted({answer.status_code for answer, _ in answered})
    busy = [(answer, took) for answer, took in answered if answer.status_code == 503]
    assert set(statuses) <= {200, 201, 503}, statuses
    assert len(busy) < len(answered), "nothing was hashed"
    assert busy, "every request was hashed at once"
    for answer, took in busy:
        assert answer.json() == {
            "detail": "Сервер занят, повторите попытку позже.",
            "code": "service_busy",
        }
        assert answer.headers["Retry-After"] == "1"
        # Not queued behind the hashes: a turn is waited for 0.1 s (the rest is the
        # throttle's count, one attempt of the address at a time, on a loaded machine).
        assert took < 3.0
    sys.stderr.write(
        f"login burst: {len(answered) - len(busy)} hashed, {len(busy)} answered 503 in at most"
        f" {max(took for _, took in busy):.2f} s; slowest hashed"
        f" {max(took for answer, took in answered if answer.status_code != 503):.2f} s\n"
    )
    # Refused unchecked, a login counted for nothing: everyone gets in on a second try.
    for name in names:
        assert (await board_api.log_in(name, PASSWORD)).status_code == 200
    for n in range(6):
        assert (await board_api.register(f"late{n}")).status_code in (201, 400)
        assert (await board_api.log_in(f"late{n}")).status_code == 200
