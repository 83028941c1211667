"""Access and refresh tokens: what is issued decodes back; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest

from shared.auth.tokens import (
    InvalidToken,
    decode_access_token,
    decode_refresh_token,
    issue_access_token,
    issue_refresh_token,
)
from shared.identity import Caller
from shared.settings import Settings

SETTINGS = Settings(env="test", secret_key="unit-test-secret-" + "0123456789abcdef" * 4)
USER_ID = uuid4()


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    issued = {
        "sub": str(USER_ID),
        "username": "alice",
        "is_staff": False,
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    issued.update(overrides)
    return {k: v for k, v in issued.items() if v is not None}


def signed(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SETTINGS.secret_key, algorithm="HS256")


def test_an_issued_token_decodes_to_its_caller() -> None:
    token = issue_access_token(SETTINGS, USER_ID, "alice", True)

    assert decode_access_token(SETTINGS, token) == Caller(USER_ID, "alice", is_staff=True)


def test_an_access_token_lives_as_long_as_configured() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = issue_access_token(SETTINGS, USER_ID, "alice", False, now=now)

    payload = jwt.decode(token, options={"verify_signature": False})

    assert payload["exp"] - payload["iat"] == SETTINGS.access_token_seconds
    assert payload["type"] == "access"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param(
            issue_access_token(
                SETTINGS, USER_ID, "alice", False, now=datetime.now(UTC) - timedelta(hours=1)
            ),
            id="expired",
        ),
        pytest.param(jwt.encode(claims(), None, algorithm="none"), id="alg none"),
        pytest.param(jwt.encode(claims(), "y" * 40, algorithm="HS256"), id="wrong secret"),
        pytest.param(jwt.encode(claims(), SETTINGS.secret_key, algorithm="HS512"), id="HS512"),
        pytest.param(signed(type="refresh"), id="refresh type"),
        pytest.param(signed(type=None), id="no type"),
        pytest.param(signed(exp=None), id="no exp"),
        pytest.param(signed(iat=None), id="no iat"),
        pytest.param(signed(sub=None), id="no sub"),
        pytest.param(signed(sub="42"), id="sub not a uuid"),
        pytest.param(signed(username=None), id="no username"),
        pytest.param(signed(is_staff="yes"), id="is_staff not a bool"),
        pytest.param(
            issue_access_token(SETTINGS, USER_ID, "alice", False)[:-3] + "abc", id="tampered"
        ),
    ],
)
def test_a_bad_token_is_invalid(token: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, token)


def test_an_issued_refresh_token_decodes_to_its_user_and_one_time_id() -> None:
    jti = uuid4()
    issued = issue_refresh_token(SETTINGS, USER_ID, jti)

    decoded = decode_refresh_token(SETTINGS, issued.token)

    assert (decoded.user_id, decoded.jti) == (USER_ID, jti)
    assert decoded.expires_at == issued.expires_at.replace(microsecond=0)


def test_a_refresh_token_lives_as_long_as_configured() -> None:
    issued = issue_refresh_token(SETTINGS, USER_ID, uuid4())

    payload = jwt.decode(issued.token, options={"verify_signature": False})

    assert payload["exp"] - payload["iat"] == SETTINGS.refresh_token_seconds == 7 * 24 * 3600
    assert payload["type"] == "refresh"


def test_an_access_token_is_not_a_refresh_token() -> None:
    with pytest.raises(InvalidToken):
        decode_refresh_token(SETTINGS, issue_access_token(SETTINGS, USER_ID, "alice", False))


def test_a_refresh_token_is_not_an_access_token() -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, issue_refresh_token(SETTINGS, USER_ID, uuid4()).token)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"jti": None}, id="no jti"),
        pytest.param({"jti": "not-a-uuid"}, id="jti not a uuid"),
        pytest.param({"exp": datetime.now(UTC) - timedelta(seconds=1)}, id="expired"),
    ],
)
def test_a_bad_refresh_token_is_invalid(overrides: dict[str, Any]) -> None:
    token = signed(**{"type": "refresh", "jti": str(uuid4()), **overrides})

    with pytest.raises(InvalidToken):
        decode_refresh_token(SETTINGS, token)
