"""`board createsuperuser`: a staff user from flags or environment variables, idempotently.

The password is never printed or logged; prefer `BOARD_SUPERUSER_PASSWORD` to the flag,
which other users of the machine can see in the process list.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from pathlib import Path

from board.embedded import embedded_postgres
from board.environment import replace_settings
from command_api.session_tables import prepare_database
from shared.application.board import Board
from shared.domain.errors import DomainError
from shared.infra.database import event_store_env
from shared.settings import Settings

logger = logging.getLogger(__name__)

# Where each value comes from when its flag is not given.
ENVIRONMENT = {
    "username": "BOARD_SUPERUSER_USERNAME",
    "email": "BOARD_SUPERUSER_EMAIL",
    "password": "BOARD_SUPERUSER_PASSWORD",
}
REQUIRED = ("username", "password")


def create_superuser(
    settings: Settings, *, username: str | None, email: str | None, password: str | None
) -> int:
    """Create the superuser, or make the existing user staff with this password; exit status."""
    given = {"username": username, "email": email, "password": password}
    values = {
        name: given[name] or os.environ.get(variable, "") for name, variable in ENVIRONMENT.items()
    }
    missing = [f"--{name} or {ENVIRONMENT[name]}" for name in REQUIRED if not values[name]]
    if missing:
        logger.error("createsuperuser needs %s", " and ".join(missing))
        return 2
    with ExitStack() as servers:
        if not settings.database_url:
            # The same embedded PostgreSQL `board up` uses, found running on its data (and
            # left so) or started for this command alone.
            database_url = servers.enter_context(
                embedded_postgres(Path(settings.data_dir), adopt=False)
            )
            settings = replace_settings(settings, database_url=database_url)
        return _save(settings, values)


def _save(settings: Settings, values: dict[str, str]) -> int:
    prepare_database(settings.database_url)
    board = Board(settings, env=event_store_env(settings))
    try:
        saved = board.create_superuser(**values)
    except DomainError as refused:
        logger.error("superuser %s was not saved: %s", values["username"], refused.detail)
        return 1
    finally:
        board.close()
    user = saved.aggregate
    outcome = "unchanged" if not saved.position else "created" if user.version == 1 else "updated"
    logger.info("superuser %s (%s): %s", user.username, user.id, outcome)
    return 0
