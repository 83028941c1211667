"""Access and refresh tokens: signed JWTs that say who the caller is.

The algorithm is pinned and `exp`, `iat`, `sub` and the token type are required, so a
token signed with another algorithm (or none), an expired one or a token of the other
type is refused. Lifetimes are checked by pyjwt against the system clock: a token is a
credential handed to clients, not a rule of the board, so the board's clock does not
move it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from shared.identity import Caller
from shared.settings import Settings

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
REFRESH_TYPE = "refresh"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "type"]
# Tokens verified lately, with what they say and when they expire (oldest first out).
MAX_VERIFIED_KEPT = 10_000
_VERIFIED: OrderedDict[tuple[str, str], tuple[Caller, float]] = OrderedDict()


class InvalidToken(Exception):
    """A token that is malformed, tampered with, expired or of the wrong type."""

    code = "token_not_valid"
    detail = "Токен недействителен или просрочен."


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token as issued: `jti` is its one-time identity in `refresh_tokens`."""

    token: str
    user_id: UUID
    jti: UUID
    expires_at: datetime


def issue_access_token(
    settings: Settings,
    user_id: UUID,
    username: str,
    is_staff: bool,
    *,
    now: datetime | None = None,
) -> str:
    claims = {"username": username, "is_staff": is_staff}
    return _issue(settings, ACCESS_TYPE, user_id, settings.access_token_seconds, now, claims)


def issue_refresh_token(
    settings: Settings, user_id: UUID, jti: UUID, *, now: datetime | None = None
) -> RefreshToken:
    issued_at = now or datetime.now(UTC)
    token = _issue(
        settings,
        REFRESH_TYPE,
        user_id,
        settings.refresh_token_seconds,
        issued_at,
        {"jti": str(jti)},
    )
    expires_at = issued_at + timedelta(seconds=settings.refresh_token_seconds)
    return RefreshToken(token, user_id, jti, expires_at)


def decode_access_token(settings: Settings, token: str) -> Caller:
    """The caller an access token names. A client sends the same token with every request
    for its lifetime, so what a token was verified to say is kept until it expires (checking
    its signature again cost a request more than its whole routing)."""
    key = (settings.secret_key, token)
    kept = _VERIFIED.get(key)
    if kept is not None and kept[1] > time.time():
        return kept[0]
    claims = _decode(settings, token, ACCESS_TYPE)
    username = claims.get("username")
    is_staff = claims.get("is_staff", False)
    if not isinstance(username, str) or not isinstance(is_staff, bool):
        raise InvalidToken
    caller = Caller(id=_uuid(claims["sub"]), username=username, is_staff=is_staff)
    _VERIFIED[key] = (caller, float(claims["exp"]))
    if len(_VERIFIED) > MAX_VERIFIED_KEPT:
        _VERIFIED.popitem(last=False)
    return caller


def decode_refresh_token(settings: Settings, token: str) -> RefreshToken:
    claims = _decode(settings, token, REFRESH_TYPE, required=["jti"])
    try:
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    except (OverflowError, OSError, ValueError):
        # pyjwt checked `exp` is a number in the future, not that a datetime can hold it.
        raise InvalidToken from None
    return RefreshToken(token, _uuid(claims["sub"]), _uuid(claims["jti"]), expires_at)


def _issue(
    settings: Settings,
    token_type: str,
    user_id: UUID,
    lifetime_seconds: int,
    now: datetime | None,
    claims: dict[str, Any],
) -> str:
    issued_at = now or datetime.now(UTC)
    return jwt.encode(
        {
            **claims,
            "sub": str(user_id),
            "type": token_type,
            "iat": issued_at,
            "exp": issued_at + timedelta(seconds=lifetime_seconds),
        },
        settings.secret_key,
        algorithm=ALGORITHM,
    )


def _decode(
    settings: Settings, token: str, token_type: str, required: list[str] | None = None
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": [*_REQUIRED_CLAIMS, *(required or [])]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken from error
    if claims["type"] != token_type:
        raise InvalidToken
    return claims


def _uuid(value: Any) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidToken from None
