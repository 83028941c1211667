"""Users through the running stack: a new user is known everywhere at once, and the server
facing the clients believes no X-Forwarded-For."""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest

from board.up import Stack
from shared.settings import EVENT_STORE_SCHEMA

pytestmark = pytest.mark.e2e

PASSWORD = "s3cret-pw"
# A new projector joins its consumer group after a rebalance timeout or so, and later on a
# loaded machine: the tests below start once it is live, as a deployed board would be.
WARM_UP_SECONDS = 60.0


@pytest.fixture(scope="module", autouse=True)
def projector_live(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=10.0, trust_env=False) as api:
        registered = api.post(
            "/api/users/register/", json={"username": "warm", "password": PASSWORD}
        )
        tokens = api.post("/api/users/login/", json={"username": "warm", "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {tokens.json()['access']}"}
        deadline = time.monotonic() + WARM_UP_SECONDS
        while api.get("/api/users/me/", headers=bearer).status_code != 200:
            assert time.monotonic() < deadline, f"no users projection after {registered.text}"


def test_a_user_who_just_registered_logs_in_and_reads_their_profile_at_once(
    api: httpx.Client,
) -> None:
    registered = api.post("/api/users/register/", json={"username": "vera", "password": PASSWORD})
    assert registered.status_code == 201, registered.text

    tokens = api.post("/api/users/login/", json={"username": "vera", "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    # No X-Min-Position: the query API waits for the user's own last change by itself.
    me = api.get("/api/users/me/", headers={"Authorization": f"Bearer {tokens.json()['access']}"})

    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["username"]) == (registered.json()["id"], "vera")


def test_failures_count_against_the_real_address_whatever_it_forwards(
    stack: Stack, api: httpx.Client
) -> None:
    try:
        for n in range(100):
            failed = api.post(
                "/api/users/login/",
                json={"username": f"guess{n}", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            )
            assert failed.status_code == 401, failed.text

        locked = api.post(
            "/api/users/login/",
            json={"username": "vera", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )

        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) > 0
    finally:
        # The module's other tests log in from the same address.
        with psycopg.connect(stack.settings.database_url) as conn:
            conn.execute(f"DELETE FROM {EVENT_STORE_SCHEMA}.login_failures")
