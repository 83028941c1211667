"""Who acted, in the domain events that record it."""

from __future__ import annotations

from typing import Any


def upcast_no_actor(state: dict[str, Any]) -> None:
    """For an event stored before the acting user was recorded: who it was is not known."""
    state["by_user_id"] = None
