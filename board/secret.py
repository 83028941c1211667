"""The signing secret of a board run from a data folder, made once and kept there.

With no `BOARD_SECRET_KEY` configured, `board up` and `board serve` use a random secret
of their data folder (`<data_dir>/secret_key`, readable by its owner only), made the first
time and kept, so tokens survive a restart and no published default ever signs anything.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from board.environment import replace_settings
from shared.settings import Settings

SECRET_FILE = "secret_key"


def with_secret(settings: Settings) -> Settings:
    """`settings` with a secret: the configured one, or the data folder's own. Production
    gets none made up: its processes run apart and must share the one they are given."""
    if settings.secret_key or settings.env == "production":
        return settings
    return replace_settings(settings, secret_key=folder_secret(Path(settings.data_dir)))


def folder_secret(data_dir: Path) -> str:
    """The folder's secret, made now if it has none; safe when processes race to make it."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as written:
            written.write(secrets.token_urlsafe(48))
        # A link appears whole or not at all, and fails if another process linked first.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()
