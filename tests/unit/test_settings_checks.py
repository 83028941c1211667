"""Each process checks what it needs of the settings, and names the variable, not its value."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import PUBLISHED_SECRETS, Section, Settings, SettingsError

OWN_SECRET = "an-own-secret-of-more-than-thirty-two-characters"


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("", "not set"),
        ("too-short-secret", "at least 32"),
        *((published, "published") for published in sorted(PUBLISHED_SECRETS)),
    ],
)
def test_the_apis_refuse_a_missing_short_or_published_secret(secret: str, problem: str) -> None:
    settings = Settings(_env_file=None, secret_key=secret)  # type: ignore[call-arg]

    with pytest.raises(SettingsError, match=problem) as refused:
        settings.check_for(Section.TOKENS)
    if secret:
        assert secret not in str(refused.value)


def test_a_published_secret_is_refused_on_loopback_in_development_too() -> None:
    published = next(iter(PUBLISHED_SECRETS))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, env="development", host="127.0.0.1", secret_key=published
    )

    with pytest.raises(SettingsError):
        settings.check_for(Section.TOKENS)


def test_a_process_that_signs_nothing_starts_without_a_secret() -> None:
    settings = Settings(_env_file=None, secret_key="")  # type: ignore[call-arg]

    assert settings.check_for() is settings
    assert settings.check_for(Section.DELIVERY) is settings


def test_only_the_notifier_checks_the_smtp_url() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, secret_key=OWN_SECRET, smtp_url="http://mail.example.com"
    )

    assert settings.check_for(Section.TOKENS) is settings
    with pytest.raises(SettingsError, match="BOARD_SMTP_URL"):
        settings.check_for(Section.DELIVERY)


def test_a_value_that_fails_validation_is_not_echoed() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, port="not-a-port-but-a-secret")  # type: ignore[call-arg]

    assert "not-a-port-but-a-secret" not in str(refused.value)
