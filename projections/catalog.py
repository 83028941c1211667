"""Every read model the projector keeps: the live worker and the replay both take this list."""

from __future__ import annotations

from projections.events_projector import EVENTS
from projections.folding import Projection
from projections.users_projector import USERS

PROJECTIONS: tuple[Projection, ...] = (EVENTS, USERS)
