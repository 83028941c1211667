"""Handing settings to child processes, which read them back from their environment."""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices

from shared.settings import Settings


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    """A validated copy of frozen settings with some fields changed."""
    return Settings(**{**settings.model_dump(), **changes})


def variable_names() -> dict[str, str]:
    """The environment variable of each field: its first alias, or its prefixed name."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names[name] = (
            str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"{prefix}{name}".upper()
        )
    return names


def settings_environment(settings: Settings) -> dict[str, str]:
    """Environment variables under which a child's `Settings()` equals `settings`."""
    environment: dict[str, str] = {}
    for name, variable in variable_names().items():
        value = getattr(settings, name)
        if value is None:
            continue
        environment[variable] = value if isinstance(value, str) else json.dumps(value)
    return environment
