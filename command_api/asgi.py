"""The command API on its own: `uvicorn command_api.asgi:app` (one container in compose)."""

from __future__ import annotations

from command_api.app import create_app
from shared.http.body_limit import BodyLimit
from shared.settings import Section, Settings

settings = Settings().check_for(Section.TOKENS)
app = BodyLimit(create_app(settings), settings.max_request_body_bytes)
