"""Handing settings to child processes, which read them back from their environment."""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices

from shared.settings import Settings


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    """A validated copy of frozen settings with some fields changed."""
    return Settings(**{**settings.model_dump(), **changes})


def settings_environment(settings: Settings) -> dict[str, str]:
    """Environment variables under which a child's `Settings()` equals `settings`."""
    prefix = settings.model_config.get("env_prefix", "")
    environment: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        alias = field.validation_alias
        variable = (
            str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"{prefix}{name}".upper()
        )
        environment[variable] = value if isinstance(value, str) else json.dumps(value)
    return environment
