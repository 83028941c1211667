"""The command API on its own: `uvicorn command_api.asgi:app` (one container in compose)."""

from __future__ import annotations

from command_api.app import create_app
from shared.settings import Section, Settings

app = create_app(Settings().check_for(Section.TOKENS))
