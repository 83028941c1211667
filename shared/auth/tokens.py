"""Access tokens: signed JWTs that say who the caller is.

The algorithm is pinned and `exp`, `iat`, `sub` and the token type are required, so a
token signed with another algorithm (or none), an expired one or a refresh token used
as an access token is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from shared.identity import Caller
from shared.settings import Settings

ALGORITHM = "HS256"
ACCESS_TYPE = "access"


class InvalidToken(Exception):
    """A token that is malformed, tampered with, expired or of the wrong type."""

    code = "token_not_valid"
    detail = "Токен недействителен или просрочен."


def issue_access_token(
    settings: Settings,
    user_id: UUID,
    username: str,
    is_staff: bool,
    *,
    now: datetime | None = None,
) -> str:
    issued_at = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "username": username,
        "is_staff": is_staff,
        "type": ACCESS_TYPE,
        "iat": issued_at,
        "exp": issued_at + timedelta(seconds=settings.access_token_seconds),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> Caller:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub", "type"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken from error
    if claims["type"] != ACCESS_TYPE:
        raise InvalidToken
    username = claims.get("username")
    is_staff = claims.get("is_staff", False)
    if not isinstance(username, str) or not isinstance(is_staff, bool):
        raise InvalidToken
    try:
        user_id = UUID(claims["sub"])
    except ValueError:
        raise InvalidToken from None
    return Caller(id=user_id, username=username, is_staff=is_staff)
