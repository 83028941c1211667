"""Every read model the projector keeps: the live worker and the replay both take this list."""

from __future__ import annotations

from projections.folding import Projection
from projections.read_models.events import EVENTS
from projections.read_models.users import USERS

PROJECTIONS: tuple[Projection, ...] = (EVENTS, USERS)
