"""The composition root of the read-model projector: a faust app feeding every read model."""

from __future__ import annotations

from projections.live import LiveProjector
from projections.read_models.catalog import PROJECTIONS
from projections.runtime.app import WorkerApp
from projections.runtime.feed import feed
from shared.infra.database import async_engine
from shared.settings import Settings


def create_app(settings: Settings) -> WorkerApp:
    """Build the projector: nothing connects until the worker starts it."""
    engine = async_engine(settings.sqlalchemy_url, pool_size=2, max_overflow=2)
    app = WorkerApp(settings, engine, role="projector")
    for projection in PROJECTIONS:
        feed(app, settings, LiveProjector(engine, projection))
    app.announce_assignment(", ".join(projection.name for projection in PROJECTIONS))
    return app
