"""Request and response bodies of the user endpoints.

The field rules are the domain's own checks, run here too so that a request learns about
every bad field at once rather than one per attempt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, StringConstraints, ValidationInfo, field_validator

from shared.application.passwords import MAX_PASSWORD_LENGTH, check_password_strength
from shared.domain.errors import InvalidField
from shared.domain.user import USERNAME_LENGTH, check_email, check_username
from shared.http.validation import RequestModel


@contextmanager
def _field_rule() -> Iterator[None]:
    """A domain rule's refusal, as pydantic's error of the field being validated."""
    try:
        yield
    except InvalidField as refused:
        raise ValueError(refused.detail) from None


class Registration(RequestModel):
    username: str
    email: str = ""
    password: str

    @field_validator("username")
    @classmethod
    def _valid_username(cls, username: str) -> str:
        with _field_rule():
            check_username(username)
        return username

    @field_validator("email", mode="before")
    @classmethod
    def _none_is_no_address(cls, email: object) -> object:
        return "" if email is None else email

    @field_validator("email")
    @classmethod
    def _valid_email(cls, email: str) -> str:
        with _field_rule():
            check_email(email)
        return email

    @field_validator("password")
    @classmethod
    def _strong_password(cls, password: str, info: ValidationInfo) -> str:
        # `username` is in `info.data` only when it was valid.
        with _field_rule():
            check_password_strength(password, info.data.get("username", ""))
        return password


class RegisteredUser(BaseModel):
    id: UUID
    username: str
    email: str


class Credentials(RequestModel):
    # No stored user has a longer name or password: longer ones are refused before they
    # reach the hasher or the failure counter's index (whose rows have a size limit).
    username: Annotated[str, StringConstraints(max_length=USERNAME_LENGTH[1])]
    password: Annotated[str, StringConstraints(max_length=MAX_PASSWORD_LENGTH)]


class OAuth2Credentials(Credentials):
    """The OAuth2 password form Swagger UI's "Authorize" sends (RFC 6749, 4.3)."""

    grant_type: Literal["password"] | None = None


class TokenPairOut(BaseModel):
    access: str
    refresh: str
    token_type: Literal["bearer"] = "bearer"
    # Only for OAuth2 form logins (Swagger UI's "Authorize"), which read this name (RFC 6749).
    access_token: str | None = None


class RefreshRequest(RequestModel):
    refresh: str


class RefreshedTokens(BaseModel):
    access: str
    refresh: str
